"""Real Redis servers for the wasmcache-redis tests: the shared one, private ones, a cluster.

The shared server (127.0.0.1:6379) is only touched under a prefix unique to this test session,
deleted key by key (SCAN + DEL) at the end. Private servers and the cluster run as child
processes on free loopback ports in a temporary directory and are stopped afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

SHARED_HOST, SHARED_PORT = "127.0.0.1", 6379
REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(bus: bool = False) -> int:
    """A free loopback port; with `bus`, PORT + 10000 (the cluster bus) is free too."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not bus or (port + 10000 < 65536 and _bindable(port + 10000)):
            return port
    raise RuntimeError("no free loopback port")


class RedisProcess:
    """One redis-server child process that a test can stop, restart, pause and resume."""

    def __init__(self, directory: Path, *extra: str, port: int | None = None,
                 client: dict[str, object] | None = None) -> None:
        if REDIS_SERVER is None:
            pytest.skip("redis-server is not installed")
        self.port = port or free_port()
        self.directory = directory
        self.extra = extra
        self.client = client or {}  # extra redis.Redis arguments to reach it (TLS)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--save", "", "--daemonize", "no",
             "--logfile", str(self.directory / f"redis-{self.port}.log"), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1,
                                 **self.client_auth(), **self.client) as r:  # type: ignore
                    if r.ping():
                        return self
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()  # never leave a half-started server behind
                    raise RuntimeError(f"redis-server on port {self.port} did not start; see "
                                       f"{self.directory}/redis-{self.port}.log") from None
                time.sleep(0.05)

    def client_auth(self) -> dict[str, str]:
        if "--requirepass" in self.extra:
            return {"password": self.extra[self.extra.index("--requirepass") + 1]}
        return {}

    def stop(self) -> None:
        """SIGTERM: redis-server flushes its append-only file and exits."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers (a hung server)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


def delete_matching(client: redis.Redis | redis.RedisCluster, pattern: bytes) -> int:
    """SCAN + DEL every key matching `pattern`; never FLUSHDB on a server we share."""
    deleted = 0
    keys = list(client.scan_iter(match=pattern, count=500))
    for key in keys:
        deleted += client.delete(key)
    return deleted


@pytest.fixture(scope="session")
def shared_redis() -> Iterator[redis.Redis]:
    """A client of the shared server, db 0."""
    client = redis.Redis(host=SHARED_HOST, port=SHARED_PORT, db=0, socket_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"the shared Redis at {SHARED_HOST}:{SHARED_PORT} is not running "
                    f"(scripts/ensure-services starts it): {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_prefix(shared_redis: redis.Redis) -> Iterator[str]:
    """`wasmcache-test-<uuid>:`, this session's own corner of the shared server."""
    prefix = f"wasmcache-test-{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        delete_matching(shared_redis, prefix.encode() + b"*")


@pytest.fixture(scope="session")
def shared_url(test_prefix: str) -> str:
    return f"redis://{SHARED_HOST}:{SHARED_PORT}/0?prefix={quote(test_prefix, safe='')}"


def _cluster_info(client: redis.Redis) -> bytes:
    info = client.execute_command("CLUSTER INFO")
    if isinstance(info, dict):  # parsed by a response callback
        return "\n".join(f"{k}:{v}" for k, v in info.items()).encode()
    return info if isinstance(info, bytes) else str(info).encode()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Three cluster masters on free loopback ports, stopped at the end; yields their ports."""
    if REDIS_SERVER is None or REDIS_CLI is None:
        pytest.skip("redis-server / redis-cli are not installed")
    directory = tmp_path_factory.mktemp("redis-cluster")
    nodes: list[RedisProcess] = []
    try:
        for _ in range(3):
            port = free_port(bus=True)
            node = RedisProcess(directory, "--cluster-enabled", "yes",
                                "--cluster-config-file", str(directory / f"nodes-{port}.conf"),
                                "--appendonly", "no", port=port)
            nodes.append(node.start())
        subprocess.run(
            [str(REDIS_CLI), "--cluster", "create",
             *(f"127.0.0.1:{node.port}" for node in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        deadline = time.monotonic() + 30
        for node in nodes:
            with redis.Redis(port=node.port, socket_timeout=2) as client:
                while b"cluster_state:ok" not in _cluster_info(client):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the test cluster did not reach cluster_state:ok")
                    time.sleep(0.1)
        yield [node.port for node in nodes]
    finally:
        for node in nodes:
            node.stop()
