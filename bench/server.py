"""Start and stop the processes the bench measures: `python main.py`, the bare app, the fake upstream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from BackEnd.config import Settings

__all__ = [
    "JWT_SECRET",
    "MAIN",
    "ROOT",
    "Process",
    "UpstreamProcess",
    "bench_env",
    "free_port",
    "run_command",
]

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"
JWT_SECRET = "bench-secret-" + "s" * 40
# Every setting the server reads; the machine's own values must not leak into the bench.
_SETTINGS = {name.upper() for name in Settings.model_fields} | {"DATABASE_URL"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bench_env(data_dir: Path, database_url: str | None, **settings: str) -> dict[str, str]:
    """The environment of every `python main.py` the bench runs."""
    env = {key: value for key, value in os.environ.items() if key.upper() not in _SETTINGS}
    env.update(
        {
            "BDD_DIR": str(data_dir),
            "JWT_SECRET": JWT_SECRET,
            "HOST": "127.0.0.1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **settings,
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


# Runs a command and writes its peak RSS (KB) to the file named first. Linux keeps a process's
# RSS high-water mark across exec, so a command forked straight from the bench would report at
# least the bench's own size (hundreds of MB at a school year's): this small Python forks it.
_PEAK_RSS = (
    "import os, subprocess, sys; process = subprocess.Popen(sys.argv[2:]); "
    "_, status, usage = os.wait4(process.pid, 0); "
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); sys.exit(os.waitstatus_to_exitcode(status))"
)


def run_command(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Run `python main.py ARGS` to completion; its wall time in seconds and its peak RSS in MB."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as output, tempfile.TemporaryDirectory() as scratch:
        peak = Path(scratch) / "peak-rss-kb"
        process = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS, str(peak), sys.executable, str(MAIN), *args],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
        elapsed = time.perf_counter() - start
        if process.returncode != 0:
            output.seek(0)
            text = output.read().decode(errors="replace")
            raise RuntimeError(f"python main.py {' '.join(args)} failed:\n{text}")
        return elapsed, int(peak.read_text()) / 1024


class Process:
    """A server process whose start-up time and peak memory the bench reads."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        """Run `python ARGS` in the log's folder, away from the repository's `.env`."""
        self.port = int(env.get("PORT", "0"))
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "wb")  # noqa: SIM115 - open for the process's whole life
        self.log_path = log_path
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            [sys.executable, *args], cwd=log_path.parent, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_first_answer(self, path: str = "/", timeout: float = 60.0) -> float:
        """Seconds from launch to the first 200 on `path`."""
        deadline = self.started + timeout
        with httpx.Client(trust_env=False, timeout=1.0) as client:
            while time.perf_counter() < deadline:
                if self.popen.poll() is not None:
                    raise RuntimeError(f"{self.log_path.name}: exited early:\n{self.log_path.read_text()}")
                try:
                    if client.get(self.url + path).status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                time.sleep(0.005)
        raise RuntimeError(f"{self.log_path.name}: no answer within {timeout} s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system, every thread) the process has used so far."""
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory (VmHWM), in MB."""
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


class UpstreamProcess:
    """The fake upstream (bench/upstream.py) in its own process, so it never competes for our GIL."""

    def __init__(self) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "upstream.py")], stdout=subprocess.PIPE, text=True
        )
        assert self.popen.stdout is not None
        self.port = int(self.popen.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def set_latency(self, seconds: float) -> None:
        httpx.post(
            f"http://127.0.0.1:{self.port}/_latency", content=str(seconds), trust_env=False
        ).raise_for_status()

    def set_stream(self, chunks: int, interval: float) -> None:
        """Streamed answers: `chunks` deltas, `interval` seconds apart."""
        httpx.post(
            f"http://127.0.0.1:{self.port}/_stream", content=f"{chunks} {interval}", trust_env=False
        ).raise_for_status()

    def arrivals(self) -> list[float]:
        """`time.monotonic()` of each chat request received since the last `set_latency`."""
        response = httpx.get(f"http://127.0.0.1:{self.port}/_arrivals", trust_env=False)
        times: list[float] = response.raise_for_status().json()
        return times

    def stop(self) -> None:
        self.popen.terminate()
        self.popen.wait()
