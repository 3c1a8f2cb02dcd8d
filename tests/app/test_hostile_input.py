"""Hostile input: crashing parsers, forged sessions, floods of uploads, bombs, a private store, failed writes."""

import base64
import errno
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import app  # noqa: F401 - configures the session secret
from components.panels import upload_panel
from components.services import config, sessions, store
from components.services.data_source import builtin_key, load_dataset, put_upload
from components.views import exports
from gppnmf_core.io import DataFormatError, ReadOptions, isolated

CRASHING_READER = [sys.executable, str(Path(__file__).with_name("crashing_reader.py"))]


def _payload(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_reader_that_crashes_costs_one_refused_file(monkeypatch):
    monkeypatch.setattr(isolated, "WORKER_ARGV", CRASHING_READER)
    with pytest.raises(DataFormatError, match=r"^crash\.mat: the reader stopped on this file \(SIGSEGV\)"):
        upload_panel.read_upload_isolated(b"MATLAB 5.0 MAT-file" + bytes(200), "crash.mat", ReadOptions())
    monkeypatch.undo()
    dataset = upload_panel.read_upload_isolated(_npy(np.arange(12.0).reshape(4, 3)), "fine.npy", ReadOptions())
    assert dataset.X.shape == (4, 3)  # this process is fine and the next file reads


def test_a_compressed_bomb_is_refused_before_it_is_decoded():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (2**13, 2**13)})  # 0.5 GiB declared
            zeros = bytes(2**20)
            for _ in range(512):
                member.write(zeros)
    data = buffer.getvalue()
    assert len(data) < 2**20
    with pytest.raises(DataFormatError, match="bomb.npz"):
        upload_panel.read_upload_isolated(data, "bomb.npz", ReadOptions())


def test_forged_session_ids_are_refused_everywhere():
    good = store.new_session_id()
    session_id, signature = good.split(".")
    for forged in (session_id, f"{session_id}.{'0' * 32}", good + "\n", good.upper(), "", None, 12, ["x"]):
        assert not sessions.is_valid(forged)
        token, _, message = upload_panel.receive_upload(_payload(b"1,2\n3,4\n"), "x.csv", forged)
        assert token is None and "reload the page" in message.children
    assert sessions.is_valid(good)


def test_thousands_of_forged_uploads_do_not_touch_a_real_sessions_data():
    real = store.new_session_id()
    key = put_upload(real, load_dataset(builtin_key("paper_toy")), "ab" * 12)
    before = load_dataset(key, real).X.copy()
    payload = _payload(_npy(np.ones((8, 8))))
    for i in range(3000):
        forged = f"{i:032x}.{i:032x}"
        token, _, message = upload_panel.receive_upload(payload, f"flood{i}.npy", forged)
        assert token is None
    np.testing.assert_array_equal(load_dataset(key, real).X, before)


def test_sessions_that_fill_the_server_cannot_push_out_another(monkeypatch):
    real = store.new_session_id()
    store.put(real, "results", {"x": np.arange(1000.0)}, {"who": "real"})
    monkeypatch.setattr(config, "STORE_QUOTA_BYTES", store.backend().total_bytes() + 200_000)
    refused, rng = 0, np.random.default_rng(0)
    for i in range(2000):
        try:  # ~2 kB each that do not compress: about a hundred fit
            store.put(store.new_session_id(), "upload-raw", {"bytes": rng.integers(0, 256, 2000, np.uint8)}, {"i": i})
        except store.StoreError as exc:
            assert "storage for uploads and results is full" in str(exc)
            refused += 1
    assert refused > 1500  # the server said no once it was full ...
    arrays, meta = store.get(real, "results")  # ... and evicted nothing of anyone else's
    np.testing.assert_array_equal(arrays["x"], np.arange(1000.0))


def test_a_session_over_its_quota_makes_room_from_its_own_oldest_entries(monkeypatch):
    monkeypatch.setattr(config, "SESSION_QUOTA_BYTES", 300_000)
    mine, other = store.new_session_id(), store.new_session_id()
    store.put(other, "results", {"x": np.zeros(30_000)}, {})
    noise = np.random.default_rng(0).standard_normal(20_000)  # ~160 kB, does not compress
    store.put(mine, "dataset-old", {"X": noise}, {})
    store.put(mine, "dataset-new", {"X": noise + 1}, {})  # does not fit beside the old one
    assert store.get(mine, "dataset-old") is None and store.get(mine, "dataset-new") is not None
    assert store.get(other, "results") is not None
    with pytest.raises(store.StoreError, match="more than the 0.3 MiB one session may keep"):
        store.put(mine, "dataset-huge", {"X": np.random.default_rng(1).standard_normal(60_000)}, {})


def test_uploads_per_minute_are_limited(monkeypatch):
    monkeypatch.setattr(config, "UPLOADS_PER_MINUTE", 3)
    session = store.new_session_id()
    messages = [upload_panel.receive_upload(_payload(b"1,2\n3,4\n"), "a.csv", session)[2] for _ in range(4)]
    assert all(m.className == "ok" for m in messages[:3])
    assert "too many uploads" in messages[3].children


def test_a_failed_write_is_an_error_on_the_page_never_a_success(monkeypatch):
    session = store.new_session_id()
    assert upload_panel.receive_upload(_payload(b"1,2\n3,4\n"), "first.csv", session)[2].className == "ok"

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.backend(), "write", disk_full)
    token, _, message = upload_panel.receive_upload(_payload(b"5,6\n7,8\n"), "second.csv", session)
    assert token is None and "could not store" in message.children and "No space left" in message.children
    monkeypatch.undo()
    assert store.get(session, "upload-raw") is None  # the previous file is not passed off as the new one


def test_the_storage_directory_is_private(tmp_path, monkeypatch):
    fresh = config.private_directory(tmp_path / "new")
    assert (fresh.stat().st_mode & 0o777) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    with pytest.raises(config.UnsafeDirectoryError, match="can be used by other users"):
        config.private_directory(shared)
    link = tmp_path / "link"
    link.symlink_to(fresh)
    with pytest.raises(config.UnsafeDirectoryError, match="not a directory"):
        config.private_directory(link)
    monkeypatch.setattr(os, "geteuid", lambda: fresh.stat().st_uid + 1)  # as if another user had made it
    with pytest.raises(config.UnsafeDirectoryError, match="belongs to user id"):
        config.private_directory(fresh)


def test_nothing_exported_names_the_session():
    session = store.new_session_id()
    dataset = load_dataset(builtin_key("paper_toy"))
    key = put_upload(session, dataset, "cd" * 12)
    specs = {"dataset": key, "D": {}, "H": {}, "noise_var": 1.0}
    arrays = {"m.D": np.ones((100, 2)), "m.H": np.ones((2, 200)), "m.trace": np.ones(3)}
    meta = {"methods": ["m"], "rank": 2, "scores": {"m": {}}, "settings": {"priors": specs},
            "fits": {"m": {"objective": 1.0, "n_iter": 1, "converged": True, "runtime": 0.1}}}
    for blob in (exports.results_npz(arrays, meta, dataset), exports.results_zip(arrays, meta, dataset)):
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            text = b"".join(archive.read(n) for n in archive.namelist())
        assert session.split(".")[0].encode() not in text and b"session" not in text


def test_forged_job_results_and_slices_get_a_message():
    from components.panels import results_panel

    session = store.new_session_id()
    for job in (["x"], "done", 7):
        out = results_panel.show_results(job, 4, session)
        assert "cannot read" in out[-1].children
    out = results_panel.show_results({"error": {"nested": 1}}, 4, session)
    assert out[-1].children == "⚠ the job failed"
    assert results_panel._valid_slice(99, load_dataset(builtin_key("csi_phantom")).cols) == 0
    assert results_panel._valid_slice(3, load_dataset(builtin_key("csi_phantom")).cols) == 3
    assert results_panel._valid_slice("3", load_dataset(builtin_key("csi_phantom")).cols) == 0


def test_sweeping_never_removes_a_session_folder_another_process_is_writing_into(monkeypatch):
    backend = store.backend()
    session = store.new_session_id()
    session_id = sessions.verify(session)
    (backend.root / session_id).mkdir(mode=0o700)  # another process has just made it, and not yet written
    backend.sweep(config.DEFAULT_TIMEOUT, force=True)
    assert (backend.root / session_id).is_dir()
    store.put(session, "results", {"x": np.arange(3.0)}, {})
    assert store.get(session, "results") is not None
