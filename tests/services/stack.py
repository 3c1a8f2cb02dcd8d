"""The app's scale-out stack on loopback, for tests and benchmarks: Redis, a Celery worker, gunicorn.

``Stack(workdir, backend="celery")`` starts ``redis-server``, one Celery worker
(prefork, concurrency 2) and ``gunicorn -w 2 app:server`` with one shared
``REDIS_URL``/``SECRET_KEY``/``GPPNMF_CACHE_DIR``; ``backend="embedded"`` starts
gunicorn alone, without ``REDIS_URL`` (each job in a fresh process the web server starts).

Everything listens on 127.0.0.1 only, on ports the kernel hands out. Each
process starts in a session (process group) of its own and writes its log to
a file in ``workdir``; :meth:`Stack.stop` stops every group, kills whatever is
left (embedded job processes too: they run in groups of their own) and returns
what it could not stop (and which ports still answer). Every
wait is bounded in time.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
#: Flags of the plain headless Chromium in tests/app/conftest.py (``second_browser``).
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                "--disable-background-networking", "--disable-component-update", "--no-first-run")


class StackError(RuntimeError):
    """A service did not start (the message carries the end of its log)."""


def have_redis() -> bool:
    return shutil.which("redis-server") is not None


def have_browser() -> bool:
    return bool(shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("google-chrome")))


def missing_packages() -> list[str]:
    """Python packages the scale-out stack needs that this interpreter lacks."""
    return [name for name in ("celery", "redis", "gunicorn") if importlib.util.find_spec(name) is None]


def _gunicorn_has_control_socket() -> bool:
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return False
    return any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago (held together so they differ)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_answers(port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for a PID 1 that may never reap it)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_until(condition, timeout: float, interval: float = 0.2, message: str = "condition"):
    """Poll ``condition()`` until it returns something truthy (returned) or ``timeout`` s pass (TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message}: not within {timeout:g} s")
        time.sleep(interval)


@dataclass
class Service:
    """One started process (the leader of its own process group) and its log file."""

    name: str
    process: subprocess.Popen
    log_path: Path
    port: int | None = None
    _seen: dict[int, psutil.Process] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, n_chars: int = 4000) -> str:
        return self.log()[-n_chars:]

    def children(self) -> list[psutil.Process]:
        """The leader's live descendants (a Celery pool, gunicorn workers, job processes)."""
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def remember(self) -> None:
        """Note the leader and its descendants now, so that teardown can check each is gone."""
        try:
            self._seen.setdefault(self.process.pid, psutil.Process(self.process.pid))
        except psutil.Error:
            pass
        for child in self.children():
            self._seen.setdefault(child.pid, child)

    def stop(self, grace_s: float = 10.0) -> list[str]:
        """SIGTERM to the leader (a clean shutdown), then SIGKILL to the whole group; what survived."""
        self.remember()
        if self.alive():
            try:
                self.process.terminate()
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # pool children, gunicorn workers, job processes
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        leftovers = [p for p in self._seen.values() if p.pid != self.process.pid]
        _, alive = psutil.wait_procs(leftovers, timeout=5)
        for p in alive:  # left the group somehow: kill them one by one (psutil checks pid reuse)
            try:
                p.kill()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(alive, timeout=3)
        problems = [f"{self.name}: pid {p.pid} still running" for p in alive]
        if self.process.poll() is None:
            problems.append(f"{self.name}: leader pid {self.process.pid} still running")
        return problems


class Stack:
    """Redis + Celery worker + gunicorn (``backend="celery"``) or gunicorn alone (``"embedded"``)."""

    def __init__(self, workdir: Path, backend: str = "celery", *, gunicorn_workers: int = 2,
                 worker_concurrency: int = 2, python: str = sys.executable, env: dict | None = None):
        if backend not in ("celery", "embedded"):
            raise ValueError(f"backend must be 'celery' or 'embedded', got {backend!r}")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self.gunicorn_workers = gunicorn_workers
        self.worker_concurrency = worker_concurrency
        self.python = python
        self.services: dict[str, Service] = {}
        self.redis_port, self.web_port = free_ports(2)
        self.redis_password = secrets.token_hex(16)  # as the README asks: Redis never runs without a password
        self.redis_url = f"redis://:{self.redis_password}@{HOST}:{self.redis_port}/0" if backend == "celery" else None
        self.base_url = f"http://{HOST}:{self.web_port}"
        cache_dir = self.workdir / "cache"
        cache_dir.mkdir(mode=0o700, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        self.env.update({"SECRET_KEY": secrets.token_hex(32), "GPPNMF_CACHE_DIR": str(cache_dir),
                         "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
        if self.redis_url:
            self.env["REDIS_URL"] = self.redis_url
        self.env.update(env or {})
        self._client = None

    # -- starting -------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], port: int | None = None) -> Service:
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        service = Service(name, process, log_path, port)
        self.services[name] = service
        return service

    def _check_alive(self, service: Service) -> None:
        if not service.alive():
            raise StackError(f"{service.name} exited with code {service.process.returncode}:\n{service.tail()}")

    def _wait_for(self, service: Service, condition, timeout: float, what: str) -> None:
        def ready():
            self._check_alive(service)
            return condition()
        try:
            wait_until(ready, timeout, message=f"{service.name}: {what}")
        except TimeoutError as exc:
            raise StackError(f"{exc}\n--- {service.log_path} ---\n{service.tail()}") from None

    def start_redis(self, timeout: float = 20.0) -> Service:
        if not have_redis():
            raise StackError("redis-server is not on PATH")
        service = self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", HOST,
                                        "--requirepass", self.redis_password,
                                        "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                              port=self.redis_port)
        import redis

        def pong():
            try:
                with redis.Redis(host=HOST, port=self.redis_port, password=self.redis_password,
                                 socket_timeout=1) as r:
                    return r.ping()
            except redis.RedisError:
                return False
        self._wait_for(service, pong, timeout, "no PONG")
        return service

    def start_worker(self, timeout: float = 60.0, *, name: str = "worker", concurrency: int | None = None,
                     app: str = "app:celery_app") -> Service:
        """A Celery worker (prefork) of ``app`` named ``name@<host>``; ready once it answers ``inspect ping``."""
        concurrency = self.worker_concurrency if concurrency is None else concurrency
        service = self._spawn(name, [self.python, "-m", "celery", "-A", app, "worker", "--loglevel=INFO",
                                     f"--concurrency={concurrency}", "--pool=prefork", "-n", f"{name}@%h"])
        self._wait_for(service, lambda: " ready." in service.log(), timeout, "no 'ready' in its log")
        self._wait_for(service, lambda: self.client().control.inspect(timeout=2.0, destination=[self.node(name)])
                       .ping(), 20, "no answer to `inspect ping`")
        service.remember()
        return service

    @staticmethod
    def node(name: str) -> str:
        """The Celery node name of the worker started as ``name``."""
        return f"{name}@{socket.gethostname()}"

    def start_gunicorn(self, timeout: float = 60.0) -> Service:
        argv = [self.python, "-m", "gunicorn", "-w", str(self.gunicorn_workers), "-b", f"{HOST}:{self.web_port}"]
        if _gunicorn_has_control_socket():  # by default one ~/.gunicorn/gunicorn.ctl for every gunicorn of
            argv.append("--no-control-socket")  # the user: this one needs none and must not take it over
        service = self._spawn("gunicorn", [*argv, "app:server"], port=self.web_port)

        def ok():
            try:
                with urllib.request.urlopen(self.base_url + "/", timeout=5) as response:
                    return response.status == 200
            except (OSError, urllib.error.URLError):
                return False
        self._wait_for(service, ok, timeout, "no HTTP 200 on /")
        service.remember()
        return service

    def start(self) -> str:
        """Start every service of this backend; the base URL of the web server. Stops all on failure."""
        try:
            if self.backend == "celery":
                self.start_redis()
                self.start_worker()
            self.start_gunicorn()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    # -- Celery, seen from outside (no import of app.py: its settings are read at import) -----

    def client(self):
        """A bare Celery client on this stack's Redis (broker and result backend)."""
        if self.redis_url is None:
            raise StackError("no Celery on the embedded backend")
        if self._client is None:
            from celery import Celery

            self._client = Celery("gppnmf-stack-client", broker=self.redis_url, backend=self.redis_url)
        return self._client

    def inspect(self, timeout: float = 2.0):
        """``celery inspect`` on the stack's one worker (returns as soon as it has answered)."""
        return self.client().control.inspect(timeout=timeout, limit=1)

    def task_state(self, task_id: str) -> str:
        """The state the result backend holds for a task: PENDING, STARTED, SUCCESS, FAILURE, REVOKED, …"""
        return self.client().AsyncResult(task_id).state

    def active_tasks(self) -> list[dict] | None:
        """Tasks the worker runs now (each with ``worker_pid``, the pool child running it); None: no reply."""
        replies = self.inspect().active()
        if not replies:
            return None
        return [task for tasks in replies.values() for task in tasks]

    def total_tasks(self) -> int:
        """Tasks the worker has received since it started (``inspect stats``)."""
        stats = self.inspect().stats() or {}
        return sum(sum(s.get("total", {}).values()) for s in stats.values())

    def pool_pids(self) -> list[int]:
        stats = self.inspect().stats() or {}
        return [pid for s in stats.values() for pid in s.get("pool", {}).get("processes", [])]

    # -- stopping -------------------------------------------------------------------------------

    def stop(self) -> list[str]:
        """Stop gunicorn, the workers and Redis (in that order); problems left (empty when clean)."""
        problems: list[str] = []
        if self._client is not None:
            try:
                self._client.close()
            except Exception as exc:  # closing a client must not keep the processes running
                problems.append(f"celery client: {exc!r}")
            self._client = None
        workers = sorted(name for name in self.services if name.startswith("worker"))
        for name in ("gunicorn", *workers, "redis"):
            service = self.services.get(name)
            if service is not None:
                problems += service.stop()
        problems += self._stop_job_processes()
        for service in self.services.values():
            if service.port is not None and port_answers(service.port):
                problems.append(f"{service.name}: port {service.port} still answers")
        return problems

    def job_processes(self) -> list[psutil.Process]:
        """Embedded job processes of this stack (``components.jobs.worker`` with this stack's storage directory)."""
        found = []
        for process in psutil.process_iter(["cmdline"]):
            try:
                if "components.jobs.worker" in (process.info["cmdline"] or []) and \
                        process.environ().get("GPPNMF_CACHE_DIR") == self.env["GPPNMF_CACHE_DIR"]:
                    found.append(process)
            except psutil.Error:
                continue
        return found

    def _stop_job_processes(self) -> list[str]:
        """Kill the job processes a stopped web server left behind (each leads a process group of its own)."""
        leftovers = self.job_processes()
        for process in leftovers:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _, alive = psutil.wait_procs(leftovers, timeout=5)
        return [f"job process {p.pid} still running" for p in alive if _running(p)]

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        problems = self.stop()
        if problems and exc[0] is None:
            raise StackError("; ".join(problems))


def chrome():
    """A plain headless Chromium (selenium), as ``second_browser`` in tests/app/conftest.py."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(options=options)


#: JavaScript: whether the prior samples are drawn (the page is up and its callbacks answer).
HAS_SAMPLES = ("const g = document.querySelector('#samples-D .js-plotly-plot');"
               "return !!(g && g.data && g.data.length);")


def open_page(driver, url: str, timeout: float = 30.0) -> None:
    """Load the app in ``driver`` and wait until the first prior samples are drawn."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(HAS_SAMPLES), "no prior samples drawn")
