"""Uploads are decoded once per process, only for their own session, and never outlive the store.

On both store backends: files (the embedded default) and a real ``redis-server``
with a password (scale-out). The decoding function is counted with a wrapper.
"""

import re
import time
import types

import numpy as np
import pytest

import gppnmf_core as gp
from components.services import data_source, sessions, store
from components.services.data_source import NOT_HERE, load_dataset, put_upload
from components.services.store_backends import FileBackend, RedisBackend
from tests.services.conftest import redis_of_its_own


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    yield from redis_of_its_own(tmp_path_factory, "redis")


@pytest.fixture(params=["files", "redis"])
def backend(request, tmp_path, monkeypatch):
    """The store on one backend, an empty decode cache, and a counter of decodes."""
    if request.param == "files":
        chosen = FileBackend(data_source.config.private_directory(tmp_path / "sessions"))
    else:
        chosen = RedisBackend(request.getfixturevalue("redis_url"))
    monkeypatch.setattr(store, "_backend", chosen)
    monkeypatch.setattr(data_source, "_cache", data_source._UploadCache(8, 512 * 2**20))
    decodes = []
    real = data_source._decode_upload

    def counted(digest, token):
        decodes.append((sessions.verify(token), digest))
        return real(digest, token)
    monkeypatch.setattr(data_source, "_decode_upload", counted)
    return decodes


def _upload(token: str, seed: int, width: int = 60) -> str:
    X = gp.datasets.paper_toy(random_state=seed).X[:, :width]
    dataset = gp.Dataset(name="f", title=f"file {seed}", X=np.ascontiguousarray(X),
                         rows=gp.Axis(np.arange(X.shape[0], dtype=float), label="shift", unit="ppm"),
                         cols=gp.Axis(np.arange(X.shape[1], dtype=float), label="t", unit="s"), truth=None,
                         noise_var=1.0, rank=2, description="")
    return put_upload(token, dataset, data_source.digest_of(X.tobytes(), f"seed{seed}"))


def test_each_upload_is_decoded_once_per_process(backend):
    decodes = backend
    token = store.new_session_id()
    first, second = _upload(token, 0), _upload(token, 1)
    loaded = [load_dataset(key, token) for _ in range(10) for key in (first, second)]
    assert len(decodes) == 2  # 20 calls, two uploads: two decodes
    assert all(d is loaded[0] for d in loaded[::2]) and all(d is loaded[1] for d in loaded[1::2])
    assert not loaded[0].X.flags.writeable  # one object serves every callback: nobody may change it
    np.testing.assert_array_equal(loaded[1].X, gp.datasets.paper_toy(random_state=1).X[:, :60])


def test_another_session_never_gets_a_cached_upload(backend):
    decodes = backend
    owner, other = store.new_session_id(), store.new_session_id()
    key = _upload(owner, 0)
    assert load_dataset(key, owner).title == "file 0"
    with pytest.raises(ValueError, match="not in this page's session"):
        load_dataset(key, other)
    with pytest.raises(ValueError, match="only be read in its own session"):
        load_dataset(key)
    forged = f"{sessions.verify(owner)}.{'0' * 32}"  # the owner's id with a made-up signature
    with pytest.raises(sessions.SessionError):
        load_dataset(key, forged)
    assert len(decodes) == 1 and load_dataset(key, owner).title == "file 0"
    # the other session uploads the same file: its own copy, decoded for it
    assert _upload(other, 0) == key and load_dataset(key, other) is not load_dataset(key, owner)
    assert [sid for sid, _ in decodes] == [sessions.verify(owner), sessions.verify(other)]


def test_least_recently_used_uploads_leave_first_by_count_and_by_bytes(backend, monkeypatch):
    decodes = backend
    token = store.new_session_id()
    keys = [_upload(token, seed) for seed in range(3)]
    monkeypatch.setattr(data_source, "_cache", data_source._UploadCache(2, 512 * 2**20))
    for key in keys:
        load_dataset(key, token)
    load_dataset(keys[2], token)
    assert len(decodes) == 3 and len(data_source._cache) == 2
    load_dataset(keys[0], token)  # evicted by the third: decoded again
    assert len(decodes) == 4
    one = data_source._nbytes(load_dataset(keys[0], token))
    monkeypatch.setattr(data_source, "_cache", data_source._UploadCache(8, int(1.5 * one)))
    load_dataset(keys[0], token)
    load_dataset(keys[1], token)
    assert len(data_source._cache) == 1 and data_source._cache.bytes == one
    load_dataset(keys[0], token)
    assert len(decodes) == 7  # 0 and 1 do not fit together
    monkeypatch.setattr(data_source, "_cache", data_source._UploadCache(8, one - 1))  # too big to keep at all
    load_dataset(keys[0], token)
    load_dataset(keys[0], token)
    assert len(decodes) == 9 and len(data_source._cache) == 0


def test_a_deleted_or_expired_upload_is_not_served_from_the_cache(backend, monkeypatch):
    decodes = backend
    token = store.new_session_id()
    key = _upload(token, 0)
    digest = key.split(":", 1)[1]
    load_dataset(key, token)
    store.delete(token, f"dataset-{digest}")
    with pytest.raises(ValueError, match="not in this page's session"):
        load_dataset(key, token)
    assert (sessions.verify(token), digest) not in data_source._cache
    assert _upload(token, 0) == key and load_dataset(key, token).title == "file 0"
    assert len(decodes) == 2
    # the store's entry expires: an hour and a bit later by the clock the store's expiry is measured with
    later = time.time() + data_source.config.DEFAULT_TIMEOUT + 5
    monkeypatch.setattr(data_source, "time", types.SimpleNamespace(time=lambda: later, monotonic=time.monotonic))
    with pytest.raises(ValueError, match=re.escape(NOT_HERE)):
        load_dataset(key, token)
    assert (sessions.verify(token), digest) not in data_source._cache


def test_a_cached_upload_in_use_renews_its_store_entry(backend, monkeypatch):
    decodes = backend
    token = store.new_session_id()
    key = _upload(token, 0)
    session_id, name = sessions.verify(token), f"dataset-{key.split(':', 1)[1]}"
    load_dataset(key, token)
    reads = []
    real_read = store.backend().read
    monkeypatch.setattr(store.backend(), "read", lambda *a: reads.append(a) or real_read(*a))
    before = store.backend().entries(session_id)[name][1]
    load_dataset(key, token)
    assert reads == []  # within RENEW_EVERY_S: the index only
    monkeypatch.setattr(data_source, "RENEW_EVERY_S", 0.0)
    load_dataset(key, token)
    assert len(reads) == 1 and store.backend().entries(session_id)[name][1] >= before
    assert len(decodes) == 1  # read to renew, never decoded again
