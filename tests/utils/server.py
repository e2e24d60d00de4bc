"""Run `python main.py` (the server or an admin command) as a real subprocess for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from BackEnd.config import Settings

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "main.py"
CLI_JWT_SECRET = "cli-test-secret-" + "k" * 24  # 40 characters
START_TIMEOUT = 30.0  # fail-safe only


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli_env(data_dir: Path, **overrides: str | None) -> dict[str, str]:
    """The environment for `main.py`: the machine's settings removed, test values set.

    An override of None removes that variable (e.g. JWT_SECRET=None lets the server make one).
    """
    setting_names = {name.lower() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.lower() not in setting_names}
    env.update(
        {
            "BDD_DIR": str(data_dir),
            "BCRYPT_ROUNDS": "4",
            # As in make_settings: tests that exercise the chat rate set it.
            "CHAT_RATE_PER_MINUTE": "0",
            "JWT_SECRET": CLI_JWT_SECRET,
            "HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Everything these tests talk to is on 127.0.0.1: never through a proxy.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_cli(
    *args: str, data_dir: Path, cwd: Path = REPO, timeout: float = 60.0, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """Run `python main.py ARGS` to completion (killed if it outlives `timeout`)."""
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        cwd=cwd,
        env=cli_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _limit_open_files(count: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


class ServerProcess:
    """A `python main.py` server; its output goes to a log file so pipes never fill up."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        *,
        cwd: Path = REPO,
        open_files: int | None = None,
        **env: str | None,
    ) -> None:
        """`open_files` sets the server's soft and hard RLIMIT_NOFILE (it cannot raise them)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(MAIN)],
            cwd=cwd,
            env=cli_env(data_dir, PORT=str(self.port), **env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if open_files is None else lambda: _limit_open_files(open_files),
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until GET / answers 200; AssertionError (with the log) if it dies or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/", timeout=1.0, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not answer within {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of this process."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        """Ask politely (SIGTERM), then kill if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


@contextmanager
def running_server(
    data_dir: Path, log_path: Path, *, open_files: int | None = None, **env: str | None
) -> Iterator[ServerProcess]:
    """A started, answering server, always stopped on exit."""
    server = ServerProcess(data_dir, log_path, open_files=open_files, **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
