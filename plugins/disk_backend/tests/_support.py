"""Helpers shared by this plugin's tests (not a test module: no ``test_`` prefix)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only_directory(path: Path) -> Iterator[Path]:
    """`path` as an existing directory that really cannot be written, or skip the test.

    chmod does not stop root, so as root the directory is made immutable (``chattr +i``, needs
    CAP_LINUX_IMMUTABLE and a filesystem that supports it); otherwise mode 0555 is enough.
    """
    path.mkdir(exist_ok=True)
    as_root = os.geteuid() == 0
    if as_root:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"running as root and chattr +i failed ({done.stderr.strip()}): "
                        "no directory here is read-only for root")
    else:
        path.chmod(0o555)
    try:
        try:
            (path / "probe").touch()
        except OSError:
            pass
        else:
            (path / "probe").unlink()
            pytest.skip(f"{path} is still writable after making it read-only")
        yield path
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o755)
