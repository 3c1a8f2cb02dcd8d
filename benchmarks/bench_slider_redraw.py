"""Slider → redraw in a real browser (issue 13): from a slider input to the new prior samples painted.

Run from the repository root (it imports the app; needs Chromium and chromedriver):

    python -m benchmarks.bench_slider_redraw [--moves 30] [--burst 60]

The app is served by a local WSGI server in this process, the page opened in headless Chromium at 1400 × 900 (or
``--window 390,844``, a phone) and the 31P CSI phantom picked (its paper preset). The mouse is pressed on the
length-scale slider of D and moved step by step without being released (DevTools mouse events, as a hand would).
Each latency is measured in the page: from the ``pointermove`` that moved the slider (``performance.now()`` in a
capturing listener) to the next animation frame after plotly drew the new samples of D (``plotly_afterplot`` with
new traces: a redraw of the same samples, after a resize or a title fitted to the width, is not counted); a second
line to when both the samples and the prior check (which every slider changes) were drawn anew. Steps are
taken one after another (the next move once the last is painted), then a burst of moves every 16 ms shows what the
relay does when the server cannot keep up: how many values it sent for how many moves, and how long after the last
move the last paint came. The machine's load average is printed with the table: on a busy machine (other processes
on the same cores) every step is slower, so compare runs made under similar load.
Prints p50/p90; no assertion on time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time

os.environ.setdefault("GPPNMF_CACHE_DIR", tempfile.mkdtemp(prefix="gppnmf-bench-slider-"))

#: The DOM id Dash gives the length-scale slider of D (a pattern-matching id).
SLIDER_ID = '{"factor":"D","name":"beta","type":"param-slider"}'
INSTRUMENT = """
window.__bench = {input: 0, paints: [], checks: []};
document.addEventListener('pointermove', e => { if (e.buttons) { window.__bench.input = performance.now(); } }, true);
function timeNewTraces(id, times) {
  const graph = document.querySelector('#' + id + ' .js-plotly-plot');
  let drawn = graph.data[0];  // a new figure brings new traces; a relayout or a resize redraws the same ones
  graph.on('plotly_afterplot', () => {
    if (graph.data[0] === drawn) { return; }
    drawn = graph.data[0];
    requestAnimationFrame(t => times.push(performance.now()));
  });
}
timeNewTraces('samples-D', window.__bench.paints);
timeNewTraces('simulated-data', window.__bench.checks);  // the prior check follows every slider
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int):
    from werkzeug.serving import make_server

    from app import app

    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def browser(size: str = "1400,900"):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", f"--window-size={size}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    width, height = (int(v) for v in size.split(","))
    driver.set_window_size(width, height)  # the flag alone gives headless Chromium no window narrower than 500 px
    until(lambda: driver.execute_script("return window.innerWidth;") == width, what=f"a window {width} px wide")
    return driver


def until(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(what)


def open_csi(driver, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    until(lambda: driver.execute_script("const g = document.querySelector('#samples-D .js-plotly-plot');"
                                        "return !!(g && g.data && g.data.length);"), what="first samples")
    driver.find_element(By.CSS_SELECTOR, "#dataset-picker").click()
    driver.find_element(By.XPATH, "//*[@role='option'][contains(., '31P')]").click()
    until(lambda: "ppm" in (driver.execute_script(
        "return Array.from(document.querySelectorAll('#samples-D .xtitle')).map(e => e.textContent).join(' ');")
        or ""), what="CSI samples on a ppm axis")
    until(lambda: "paper" in driver.find_element(By.CSS_SELECTOR, "#preset-picker").text, what="paper preset")


class Mouse:
    """The mouse through the DevTools protocol (Selenium's action chains lose the slider's pointer capture
    between two ``perform()`` calls)."""

    def __init__(self, driver, element):
        self.driver = driver
        self.x, self.y = driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'}); const r = arguments[0].getBoundingClientRect();"
            "return [r.left + r.width / 2, r.top + r.height / 2];", element)

    def event(self, kind: str, buttons: int) -> None:
        self.driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": self.x, "y": self.y,
                                                                 "button": "left", "buttons": buttons,
                                                                 "clickCount": 1})

    def move_by(self, dx: float) -> None:
        self.x += dx
        self.event("mouseMoved", 1)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    from selenium.webdriver.common.by import By

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=30, help="one-at-a-time moves to time")
    parser.add_argument("--burst", type=int, default=60, help="moves 16 ms apart in the burst")
    parser.add_argument("--window", default="1400,900", help="window size, width,height (a phone: 390,844)")
    args = parser.parse_args()

    port = _free_port()
    server = serve(port)
    driver = browser(args.window)
    try:
        open_csi(driver, f"http://127.0.0.1:{port}/")
        slider = driver.find_element(By.XPATH, f"//*[@id='{SLIDER_ID}']")
        thumb = slider.find_element(By.CSS_SELECTOR, "[role=slider]")
        step = slider.find_element(By.CSS_SELECTOR, ".dash-slider-track").size["width"] / 40
        driver.execute_script(INSTRUMENT)
        mouse = Mouse(driver, thumb)
        mouse.event("mouseMoved", 0)
        mouse.event("mousePressed", 1)
        latencies, checks = [], []
        counts = "const b = window.__bench; return [b.paints.length, b.checks.length];"
        for i in range(args.moves):
            before = driver.execute_script(counts)
            mouse.move_by(step if (i // 10) % 2 == 0 else -step)  # back and forth, inside the slider's range
            until(lambda before=before: all(a > b for a, b in zip(driver.execute_script(counts), before, strict=True)),
                  what=f"samples and prior check painted after move {i + 1}")
            sample, check = driver.execute_script(
                "const b = window.__bench; return [b.paints[b.paints.length - 1] - b.input, "
                "b.checks[b.checks.length - 1] - b.input];")
            latencies.append(sample)
            checks.append(max(sample, check))
        sent_before = driver.execute_script("return window.gppnmfSliderRelay.sent;")
        paints_before = driver.execute_script("return window.__bench.paints.length;")
        for i in range(args.burst):
            mouse.move_by(step / 4 if (i // 20) % 2 == 0 else -step / 4)
            time.sleep(0.016)
        last_move = driver.execute_script("return window.__bench.input;")
        until(lambda: not driver.execute_script("return window.gppnmfSliderRelay.busy;"), what="burst settled")
        time.sleep(0.5)  # a benchmark, not a test: let a value sent at the very end be drawn
        burst = driver.execute_script("const b = window.__bench; return [window.gppnmfSliderRelay.sent, "
                                      "b.paints.length, b.paints[b.paints.length - 1]];")
        mouse.event("mouseReleased", 0)
    finally:
        driver.quit()
        server.shutdown()

    print("Slider → new prior samples painted (31P CSI phantom, D length-scale slider, headless Chromium "
          f"{args.window.replace(',', ' × ')}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end)")
    for what, values in (("samples of D", latencies), ("samples and prior check", checks)):
        print(f"  one move at a time, {len(values)} moves, {what} painted: p50 {statistics.median(values):.0f} ms, "
              f"p90 {percentile(values, 0.9):.0f} ms, min {min(values):.0f} ms, max {max(values):.0f} ms")
    sent, paints, last_paint = burst[0] - sent_before, burst[1] - paints_before, burst[2]
    print(f"  burst of {args.burst} moves 16 ms apart: {sent} values sent, {paints} redraws, last paint "
          f"{last_paint - last_move:.0f} ms after the last move (one request at a time: no pile-up)")


if __name__ == "__main__":
    main()
