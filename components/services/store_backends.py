"""Where the session store keeps its bytes: files in a private directory, or Redis.

Both hold opaque blobs under (session id, entry name) and know each entry's
size and last use, so that the store can apply quotas and expiry. Neither
interprets what it holds; neither ever unpickles anything.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


class FileBackend:
    """``<root>/<session id>/<name>.entry`` files; an entry's mtime is its last use."""

    SWEEP_EVERY_S = 60.0
    #: How long a counted total is trusted; meanwhile this process adds what it writes and removes.
    RECOUNT_EVERY_S = 2.0

    def __init__(self, root: Path):
        self.root = Path(root)
        self._last_sweep = 0.0
        self._total = None  # (bytes, when counted)

    def _dir(self, session_id: str) -> Path:
        return self.root / session_id

    def _path(self, session_id: str, name: str) -> Path:
        return self._dir(session_id) / f"{name}.entry"

    def write(self, session_id: str, name: str, blob: bytes, timeout_s: float) -> None:
        folder = self._dir(session_id)
        folder.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, self._path(session_id, name))  # readers see the old entry or the new one, never half
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._adjust(len(blob))

    def _adjust(self, delta: int) -> None:
        if self._total is not None:
            self._total = (self._total[0] + delta, self._total[1])

    def read(self, session_id: str, name: str, timeout_s: float) -> bytes | None:
        path = self._path(session_id, name)
        try:
            if time.time() - path.stat().st_mtime > timeout_s:
                path.unlink(missing_ok=True)
                return None
            blob = path.read_bytes()
            os.utime(path)
        except FileNotFoundError:
            return None
        return blob

    def delete(self, session_id: str, name: str) -> None:
        path = self._path(session_id, name)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        self._adjust(-size)

    def entries(self, session_id: str) -> dict[str, tuple[int, float]]:
        """name → (bytes, last use) of one session's entries."""
        out = {}
        try:
            with os.scandir(self._dir(session_id)) as it:
                for item in it:
                    if item.name.endswith(".entry"):
                        try:
                            info = item.stat()
                        except FileNotFoundError:
                            continue
                        out[item.name[:-6]] = (info.st_size, info.st_mtime)
        except FileNotFoundError:
            pass
        return out

    def _session_dirs(self):
        with os.scandir(self.root) as it:
            return [item for item in it if item.is_dir(follow_symlinks=False)]

    def total_bytes(self) -> int:
        """Bytes held by every session (counted again every few seconds: other processes write too)."""
        now = time.monotonic()
        if self._total is None or now - self._total[1] > self.RECOUNT_EVERY_S:
            counted = sum(size for folder in self._session_dirs() for size, _ in self.entries(folder.name).values())
            self._total = (counted, now)
        return self._total[0]

    def sweep(self, timeout_s: float, force: bool = False) -> None:
        """Remove expired entries and empty session folders (at most once a minute unless forced)."""
        now = time.time()
        if not force and now - self._last_sweep < self.SWEEP_EVERY_S:
            return
        self._last_sweep = now
        for folder in self._session_dirs():
            for name, (_, used) in self.entries(folder.name).items():
                if now - used > timeout_s:
                    self.delete(folder.name, name)
            try:  # only an empty folder untouched for the whole timeout: another process may be writing into it
                if now - folder.stat(follow_symlinks=False).st_mtime > timeout_s:
                    os.rmdir(folder.path)
            except OSError:
                pass  # not empty, or already gone
        self._total = None


class RedisBackend:
    """Keys ``gppnmf:s:<session id>:<name>`` with a TTL, and a per-session index hash of sizes and last uses."""

    PREFIX = "gppnmf:s:"

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url)
        self._errors = (redis.RedisError,)

    def _call(self, method, *args):
        try:
            return method(*args)
        except self._errors as exc:  # the store reports OSErrors as "could not store/read"
            raise OSError(f"Redis: {exc}") from None

    def _key(self, session_id: str, name: str) -> str:
        return f"{self.PREFIX}{session_id}:{name}"

    def _index(self, session_id: str) -> str:
        return f"{self.PREFIX}{session_id}"

    def write(self, session_id: str, name: str, blob: bytes, timeout_s: float) -> None:
        ttl = max(1, int(timeout_s))
        pipe = self._redis.pipeline()
        pipe.set(self._key(session_id, name), blob, ex=ttl)
        pipe.hset(self._index(session_id), name, f"{len(blob)}:{time.time()}")
        pipe.expire(self._index(session_id), ttl)
        self._call(pipe.execute)

    def read(self, session_id: str, name: str, timeout_s: float) -> bytes | None:
        ttl = max(1, int(timeout_s))
        blob = self._call(self._redis.get, self._key(session_id, name))
        if blob is None:
            self._call(self._redis.hdel, self._index(session_id), name)
            return None
        pipe = self._redis.pipeline()
        pipe.expire(self._key(session_id, name), ttl)
        pipe.hset(self._index(session_id), name, f"{len(blob)}:{time.time()}")
        pipe.expire(self._index(session_id), ttl)
        self._call(pipe.execute)
        return blob

    def delete(self, session_id: str, name: str) -> None:
        pipe = self._redis.pipeline()
        pipe.delete(self._key(session_id, name))
        pipe.hdel(self._index(session_id), name)
        self._call(pipe.execute)

    def entries(self, session_id: str) -> dict[str, tuple[int, float]]:
        raw = self._call(self._redis.hgetall, self._index(session_id))
        out = {}
        for name, value in raw.items():
            size, used = value.decode().split(":", 1)
            out[name.decode()] = (int(size), float(used))
        return out

    def total_bytes(self) -> int:
        """Memory Redis uses now (everything it holds counts against the total quota)."""
        return int(self._call(self._redis.info, "memory")["used_memory"])

    def sweep(self, timeout_s: float, force: bool = False) -> None:
        """Redis expires keys by itself."""
