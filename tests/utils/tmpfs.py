"""A small file system of its own for disk-full tests: mounted as root on Linux, else the test is skipped."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(mount_point: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` at `mount_point`, unmounted on exit; skips the test where one cannot be mounted."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    mount_point.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)  # busy: detach it


def fill(disk: Path, leave_free: int = 0, name: str = "filler") -> Path:
    """Another program's file takes all the space but about `leave_free` bytes; returns it."""
    filler = disk / name
    with open(filler, "wb", buffering=0) as handle:
        for chunk in (65536, 4096):  # big steps, then page by page: not even a small file fits after
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        if leave_free:
            handle.truncate(max(0, handle.tell() - leave_free))
    return filler
