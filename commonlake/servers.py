"""Running Commonlake's servers in child processes, for the demo and for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from commonlake.settings import Settings


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the parent dies.

    Servers run in their own session (so a Ctrl-C in the terminal doesn't reach them
    before we stop them in order); without this, a parent killed by a timeout would leave
    them running and holding their ports. (Linux delivers the signal when the thread that
    started the child exits, so start servers from a long-lived thread.)
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_or_free(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` when it is free on ``host``, otherwise (or when 0) any free port."""
    if not preferred:
        return free_port(host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, preferred))
            return preferred
        except OSError:
            return free_port(host)


class ServerStartError(RuntimeError):
    """A server process exited or did not answer /health in time."""


class ServerProcess:
    """``python -m commonlake serve <component>`` as a child process, stopped on exit."""

    def __init__(
        self,
        component: str,
        settings: Settings,
        host: str,
        port: int,
        log_path: Path,
        workers: int = 1,
    ) -> None:
        self.component = component
        self.settings = settings
        self.host = host
        self.port = port
        self.log_path = log_path
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the process and wait until ``/health`` answers."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings.to_env(), "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1"}
        command = [
            sys.executable,
            "-m",
            "commonlake",
            "serve",
            self.component,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 (owned by the child for its lifetime)
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"{self.component} server exited with code {self.process.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerStartError(f"{self.component} server did not answer on {self.url} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
