"""In a real browser: a file that kills its parser costs one message, and the session outlives a reload."""

import sys
from pathlib import Path

import numpy as np
from page import wait
from selenium.webdriver.common.by import By

from gppnmf_core.io import isolated

CRASHING_READER = [sys.executable, str(Path(__file__).with_name("crashing_reader.py"))]


def _upload(driver, path: Path) -> None:
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(path))


def _text(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def test_a_file_that_kills_its_parser_gets_a_message_and_the_server_goes_on(studio, tmp_path, monkeypatch):
    monkeypatch.setattr(isolated, "WORKER_ARGV", CRASHING_READER)  # the server thread runs in this process
    crafted = tmp_path / "crafted.mat"
    crafted.write_bytes(b"MATLAB 5.0 MAT-file, crafted" + bytes(2000))
    _upload(studio.driver, crafted)
    wait(studio.driver, lambda: "reader stopped on this file (SIGSEGV)" in _text(studio.driver, "#upload-message"),
         message="no message for a file that crashes its reader")
    assert "crafted.mat" in _text(studio.driver, "#upload-message")
    monkeypatch.undo()
    good = tmp_path / "good.npy"
    np.save(good, np.abs(np.random.default_rng(0).standard_normal((64, 12))))
    _upload(studio.driver, good)  # the same server reads the next file
    wait(studio.driver, lambda: "Read good.npy: 64 × 12" in _text(studio.driver, "#upload-message"),
         message="the server did not read the next file")
    studio.wait_for_contains_text("#dataset-heatmap", "64 × 12", timeout=20)


def test_a_reload_keeps_the_session_and_a_made_up_one_is_replaced(studio, tmp_path):
    driver = studio.driver
    cookie = driver.get_cookie("gppnmf_session")
    assert cookie and cookie["httpOnly"]
    data = tmp_path / "mine.npy"
    np.save(data, np.abs(np.random.default_rng(1).standard_normal((32, 10))))
    _upload(driver, data)
    wait(driver, lambda: "Read mine.npy" in _text(driver, "#upload-message"), message="upload not read")
    driver.refresh()
    wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#samples-D .main-svg"), message="page reload")
    assert driver.get_cookie("gppnmf_session")["value"] == cookie["value"]
    driver.delete_cookie("gppnmf_session")
    driver.add_cookie({"name": "gppnmf_session", "value": "0" * 32 + "." + "0" * 32, "path": "/"})
    driver.refresh()  # a made-up session is replaced by a new one the server issues
    wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#samples-D .main-svg"), message="page reload")
    assert driver.get_cookie("gppnmf_session")["value"] not in (cookie["value"], "0" * 32 + "." + "0" * 32)
    assert studio.get_logs() == []
