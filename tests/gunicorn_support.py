"""gunicorn as production runs it (our config file, our WSGI app), on a free loopback port."""

from __future__ import annotations

import subprocess
import sys

from dispatcher_site.local_servers import free_port, wait_for_port


def start_gunicorn(
    environment: dict[str, str], workers: int = 1, log=subprocess.DEVNULL
) -> tuple[subprocess.Popen, str]:
    """The process and its base URL; stop it with `local_servers.stop`."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "dispatcher_site/gunicorn.conf.py", "dispatcher_site.wsgi"],
        env={**environment, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)},
        stdout=log,
        stderr=log,
    )
    wait_for_port("127.0.0.1", port, process, timeout=30)
    return process, f"http://127.0.0.1:{port}"
