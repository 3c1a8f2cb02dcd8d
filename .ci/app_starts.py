"""CI check: with the package installed (`pip install .[app]`), `gppnmf serve` in the checkout starts the app and
serves its page. Exit status 0 when GET / answers 200 within the time limit."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
gppnmf = os.path.join(os.path.dirname(sys.executable), "gppnmf")
env = {**os.environ, "GPPNMF_CACHE_DIR": tempfile.mkdtemp()}
server = subprocess.Popen([gppnmf, "serve", "--port", str(port)], env=env)
try:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the app exited with status {server.returncode} before serving its page")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                page = answer.read().decode()
            if answer.status == 200 and "GPP-NMF Studio" in page:
                print(f"the app started from the installed package and served its page on port {port}")
                sys.exit(0)
        except OSError:
            pass
        time.sleep(0.5)  # polling a starting server, not a test
    sys.exit("the app did not serve its page within 180 s")
finally:
    server.terminate()
    server.wait(timeout=30)
