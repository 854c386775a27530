"""Outages on private servers: a stopped database gives `unavailable`, never a crash, and the
same backend object works again (pool pre-ping) once the server is back, data intact.

Each server runs on a free loopback port in its own temporary directory, as the service user
when the tests run as root (initdb and mariadbd refuse root), and is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from wasmcache import CacheError, GuestSession, open_backend
from wasmcache.testing.contract import unique_namespace

#: the newest installed PostgreSQL's server binaries (Debian keeps them per major version)
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"),
             key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
CONNECT_TIMEOUT = 2
MARGIN = 8  # seconds on top of the configured timeout, for a loaded machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_user(user: str, argv: list[str]) -> list[str]:
    """Run as the service user when we are root; as ourselves otherwise."""
    return ["runuser", "-u", user, "--", *argv] if os.geteuid() == 0 else argv


def private_dir(user: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"wasmcache-sql-{user}-"))
    if os.geteuid() == 0:
        shutil.chown(path, user, user)
    return path


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def reachable(url: str) -> bool:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


class PrivatePostgres:
    """initdb + pg_ctl in a temporary directory; `extra_options` are more ``-c name=value``
    server settings (TLS, pg_hba.conf) for subclasses."""

    extra_options = ""

    def __init__(self) -> None:
        self.dir = private_dir("postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run(as_user("postgres", [str(PG_BIN / "initdb"), "-D", str(self.data),
                                            "-A", "trust", "-U", "postgres", "--no-sync",
                                            "--no-instructions", "-E", "UTF8"]),
                       check=True, capture_output=True)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   f"-c fsync=off -c shared_buffers=16MB {self.extra_options}")
        subprocess.run(as_user("postgres", [str(PG_BIN / "pg_ctl"), "-D", str(self.data),
                                            "-l", str(self.dir / "log"), "-o", options,
                                            "-w", "-t", "60", "start"]),
                       check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(as_user("postgres", [str(PG_BIN / "pg_ctl"), "-D", str(self.data),
                                            "-m", "fast", "-w", "stop"]),
                       check=False, capture_output=True)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateMariadb:
    """mariadb-install-db + mariadbd in a temporary directory; `extra_args` are more mariadbd
    options (TLS) for subclasses."""

    extra_args: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.dir = private_dir("mysql")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"mysql+pymysql://root@127.0.0.1:{self.port}/wasmcache"
        self.process: subprocess.Popen[bytes] | None = None
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data}", *user,
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True)

    def start(self) -> None:
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.dir / 'sock'}",
             f"--pid-file={self.dir / 'pid'}", f"--log-error={self.dir / 'err'}",
             "--skip-name-resolve", "--innodb-buffer-pool-size=16M", *user, *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = self.url.rsplit("/", 1)[0] + "/mysql"
        wait_until(lambda: reachable(server), "mariadbd start")
        engine = sa.create_engine(server, poolclass=sa.NullPool)
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE IF NOT EXISTS wasmcache")
        engine.dispose()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def private_server(request: pytest.FixtureRequest) -> Iterator[PrivatePostgres | PrivateMariadb]:
    server = PrivatePostgres() if request.param == "postgresql" else PrivateMariadb()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.remove()


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_stopped_server_is_unavailable_and_the_backend_recovers(
        private_server: PrivatePostgres | PrivateMariadb, run_cli, hello_guest: Path,  # type: ignore[no-untyped-def]
) -> None:
    url = f"{private_server.url}?connect_timeout={CONNECT_TIMEOUT}"
    backend = open_backend(url)
    host = GuestSession(backend, unique_namespace())
    try:
        assert host.set("kept", b"before the outage", None) is None
        assert host.get("kept") == b"before the outage"
        private_server.stop()

        for call in (lambda: host.get("kept"), lambda: host.set("new", b"v", None),
                     lambda: host.delete("kept")):
            result, took = timed(call)
            assert result == CacheError.UNAVAILABLE
            assert took < CONNECT_TIMEOUT + MARGIN
        # a guest sees the same: an error case, and the host exits normally
        guest = run_cli("run", "--backend", url, "--namespace", host.namespace,
                        str(hello_guest), "get", "kept")
        assert guest.stdout == "get kept: error unavailable\n", guest.stderr
        assert guest.returncode == 1, guest.stderr

        private_server.start()
        assert host.get("kept") == b"before the outage"  # the same backend object
        assert host.set("new", b"after", 60) is None
        assert host.get("new") == b"after"
    finally:
        backend.close()


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_server_that_never_answers_times_out_as_unavailable(scheme: str) -> None:
    """A listener that accepts TCP but never speaks: the timeout, not a hang, decides."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        port = mute.getsockname()[1]
        extra = "&io_timeout=2" if scheme.startswith("mysql") else ""
        backend = open_backend(
            f"{scheme}://u@127.0.0.1:{port}/db?connect_timeout={CONNECT_TIMEOUT}{extra}")
        host = GuestSession(backend, unique_namespace())
        try:
            result, took = timed(lambda: host.get("k"))
            assert result == CacheError.UNAVAILABLE
            assert took < CONNECT_TIMEOUT + MARGIN
        finally:
            backend.close()
