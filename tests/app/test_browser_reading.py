"""Real browser: upload a NIfTI-MRS file, change how it is read, see the message and the preview follow."""

import numpy as np
from page import set_input, wait
from selenium.webdriver.common.by import By

from gppnmf_core.io import write_nifti_mrs

MHZ, DWELL, POINTS = 123.2, 2.5e-4, 1024  # 1H, spectral width 4000 Hz


def _nifti_1h(path):
    """Four voxels of NAA, creatine and choline, receiver on water (4.65 ppm)."""
    t = np.arange(POINTS) * DWELL
    fid = sum(a * np.exp(-2j * np.pi * (ppm - 4.65) * MHZ * t) for ppm, a in ((2.01, 3.0), (3.03, 2.0), (3.2, 1.5)))
    fid = fid * np.exp(-np.pi * 4.0 * t)
    write_nifti_mrs(np.linspace(1, 2, 4).reshape(2, 2, 1, 1) * fid, DWELL, MHZ, "1H", str(path), reference_ppm=4.65)
    return path


def _text(driver, selector):
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def _preview_labels(driver):
    return driver.execute_script(
        "const g = document.querySelector('#preview-signal .js-plotly-plot');"
        "return g && g.layout && g.layout.annotations ? g.layout.annotations.map(a => a.text) : [];")


def _preview_kind(driver):
    return driver.execute_script(
        "const g = document.querySelector('#preview-signal .js-plotly-plot');"
        "return g && g.data && g.data.length ? [g.data[0].type, g.data[0].mode] : null;")


def test_changing_a_reading_option_reads_the_file_again(studio, tmp_path):
    driver = studio.driver
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(_nifti_1h(tmp_path / "svs.nii")))
    wait(driver, lambda: "Read svs.nii:" in _text(driver, "#upload-message"), timeout=30,
         message="the upload was not read")
    first = _text(driver, "#upload-message")
    rows = int(first.split(":")[1].split("×")[0])
    assert rows < POINTS  # cropped to the 1H metabolite range by default
    wait(driver, lambda: f"{rows} × 4" in _text(driver, "#dataset-heatmap .gtitle"), message="no heat map")
    wait(driver, lambda: "NAA" in _preview_labels(driver), message="no peak labels on the preview")
    assert _preview_kind(driver) == ["scatter", "lines"]

    driver.find_element(By.CSS_SELECTOR, ".upload-options summary").click()
    driver.find_element(By.CSS_SELECTOR, "#read-crop input[value='none']").click()
    wait(driver, lambda: f"Read svs.nii: {POINTS} × 4 (crop none)." == _text(driver, "#upload-message"),
         timeout=30, message="crop 'none' did not read the file again")
    wait(driver, lambda: f"{POINTS} × 4" in _text(driver, "#dataset-heatmap .gtitle"),
         message="the heat map did not follow the new reading")

    set_input(studio, "read-ppm-low", 1.5)
    set_input(studio, "read-ppm-high", 3.5)
    wait(driver, lambda: "(ppm range 1.5 to 3.5, crop none)." in _text(driver, "#upload-message"), timeout=30,
         message="the ppm range did not read the file again")
    narrow = int(_text(driver, "#upload-message").split(":")[1].split("×")[0])
    assert narrow < rows
    wait(driver, lambda: f"{narrow} × 4" in _text(driver, "#dataset-heatmap .gtitle"), message="heat map")
    wait(driver, lambda: sorted(_preview_labels(driver)) == ["Cho", "Cr", "NAA"],
         message="the preview's labels did not follow the range")

    driver.find_element(By.CSS_SELECTOR, "#read-dynamics input[value='keep']").click()
    wait(driver, lambda: "dynamics keep" in _text(driver, "#upload-message"), timeout=30,
         message="the dynamics choice did not reach the reader")
    assert studio.get_logs() == []
