"""Real-browser tests of uploads, downloads and per-session isolation."""

import io
import zipfile
from pathlib import Path

import numpy as np
from page import result_columns, wait, wait_for_prior_samples_on
from selenium.webdriver.common.by import By

import gppnmf_core as gp


def _csi_npz(path: Path, scale: float = 1.0) -> Path:
    csi = gp.datasets.csi_phantom(random_state=0)
    np.savez(path, X=scale * csi.X, ppm=csi.rows.values, grid_shape=np.array(csi.cols.shape))
    return path


def _upload(driver, path: Path) -> None:
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(path))


def _text(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def test_upload_decompose_and_download_the_results(studio, tmp_path):
    driver = studio.driver
    _upload(driver, _csi_npz(tmp_path / "my_csi.npz"))
    wait(driver, lambda: "Read my_csi.npz: 397 × 512" in _text(driver, "#upload-message"),
          message="the upload was not read")
    studio.wait_for_contains_text("#dataset-heatmap", "397 × 512", timeout=20)
    assert "chemical shift (ppm)" in _text(driver, "#dataset-info")
    assert "8 × 8 × 8 voxel grid" in _text(driver, "#dataset-info")
    wait_for_prior_samples_on(driver, "chemical shift")  # the prior designer has taken up the new data
    studio.find_element("#run-button").click()
    wait(driver, lambda: result_columns(driver) == 3,
          timeout=60, message="no results for the uploaded data")
    studio.find_element("#download-zip").click()
    target = Path(studio.download_path) / "gppnmf-results.zip"
    wait(driver, lambda: target.exists() and zipfile.is_zipfile(target), timeout=20,
         message="the results were not downloaded")
    with zipfile.ZipFile(io.BytesIO(target.read_bytes())) as archive:
        assert "gppnmf_D.csv" in archive.namelist()
        D = np.loadtxt(io.StringIO(archive.read("gppnmf_D.csv").decode()), delimiter=",", skiprows=1)
    assert D.shape == (397, 3)  # ppm column + two components
    assert studio.get_logs() == []


def test_a_bad_file_gets_a_message_and_the_app_keeps_working(studio, tmp_path):
    bad = tmp_path / "broken.npy"
    bad.write_bytes(b"\x93NUMPY this is not really an array")
    _upload(studio.driver, bad)
    wait(studio.driver, lambda: "broken.npy" in _text(studio.driver, "#upload-message")
          and "⚠" in _text(studio.driver, "#upload-message"), message="no message for a bad file")
    studio.find_element("#run-button").click()  # the built-in data set is still selected and runs
    wait(studio.driver, lambda: result_columns(studio.driver) == 3, timeout=60,
         message="the app stopped working after a bad upload")


def test_two_sessions_see_only_their_own_data(studio, second_browser, tmp_path):
    first, second = studio.driver, second_browser
    second.get(studio.server_url)
    wait(second, lambda: second.find_elements(By.CSS_SELECTOR, "#samples-D .main-svg"), message="second page")
    _upload(first, _csi_npz(tmp_path / "alice.npz"))
    _upload(second, _csi_npz(tmp_path / "bob.npz", scale=3.0))
    for driver, name in ((first, "alice.npz"), (second, "bob.npz")):
        wait(driver, lambda d=driver, n=name: f"Read {n}" in _text(d, "#upload-message"), message=name)
        wait_for_prior_samples_on(driver, "chemical shift")
    for driver in (first, second):
        driver.find_element(By.CSS_SELECTOR, "#run-button").click()
    for driver in (first, second):
        wait(driver, lambda d=driver: result_columns(d) == 3,
              timeout=90, message="results")
    titles = [_text(d, "#dataset-heatmap .gtitle") for d in (first, second)]
    assert "alice" in titles[0] and "bob" not in titles[0]
    assert "bob" in titles[1] and "alice" not in titles[1]
    rmse = [d.execute_script("return JSON.stringify(document.querySelector('#rmse-chart .js-plotly-plot').data[0].y);")
            for d in (first, second)]
    assert rmse[0] != rmse[1]  # bob's data are 3× alice's: his results are his own
