"""Redis Cluster failover under a running guest: a master dies, its replica takes over.

Three masters with one replica each (``cluster-node-timeout`` 500 ms). The example hostile
guest's ``pulse`` sets and reads its own keys every 20 ms through `wasmcache run`; the test kills
(SIGKILL) the master that owns the guest's namespace (one slot: the hash tag). The guest's
calls answer ``unavailable`` until the cluster has promoted the replica, then ``ok`` again: the
same guest, the same host process, no restart. The gap is measured and reported.

Redis replicates asynchronously: a write the master acknowledged may not have reached the
replica when the master died, and is then lost (see the README). The test counts such writes
among those acknowledged before the kill; on loopback it usually finds none, so it does not
assert a number.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_helpers import ROOT, load_by_path
from wasmcache import GuestSession, open_backend
from wasmcache.testing.contract import unique_namespace
from wasmcache.testing.hardening import report
from wasmcache_redis import redis_key
from wasmcache_redis.options import DEFAULT_PREFIX

from .servers import FailoverCluster

# the fault tests' line reader and waiter: (time, line) pairs, "count consecutive lines ending
# with ..." within a deadline (a liveness bound, not a speed claim: the gap is reported)
_faults = load_by_path("_security_fault_helpers", ROOT / "tests/test_hardening_faults.py")
_lines, _until = _faults._lines, _faults._until

sys.path.insert(0, str(ROOT / "examples"))
from build import build_guest  # noqa: E402

WASMCACHE = str(Path(sys.executable).with_name("wasmcache"))


@pytest.fixture
def failover_cluster(tmp_path: Path) -> Iterator[FailoverCluster]:
    cluster = FailoverCluster(tmp_path / "cluster").start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.slow
def test_master_killed_under_a_running_guest(failover_cluster: FailoverCluster,
                                             tmp_path: Path) -> None:
    namespace = unique_namespace()
    url = failover_cluster.url(socket_connect_timeout=0.5, socket_timeout=0.5)
    env = {k: v for k, v in os.environ.items() if k != "WASMCACHE_BACKEND"}
    guest = subprocess.Popen(
        [WASMCACHE, "run", "--backend", url, "--namespace", namespace, "--timeout", "300",
         str(build_guest("hostile_guest")), "pulse", "1000000", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    seen: list[tuple[float, str]] = []
    try:
        lines = _lines(guest.stdout)
        _until(lines, " ok", seen, count=20, timeout=120)
        slot_key = redis_key(namespace, b"pulse-0", DEFAULT_PREFIX)
        master = failover_cluster.master_of(slot_key)
        assert master.process is not None
        before = len(seen)
        killed_at = time.monotonic()
        master.process.kill()  # a crash: no shutdown, no handing over
        master.process.wait()
        master.process = None
        _until(lines, " error unavailable", seen, count=1)
        _until(lines, " ok", seen, count=20)
        promoted = failover_cluster.master_of(slot_key)
        backend = open_backend(url)
        try:
            assert GuestSession(backend, namespace).set("pulse-stop", b"1", None) is None
            _, stderr = guest.communicate(timeout=120)
            host = GuestSession(backend, namespace)
            acked = [line.split()[1] for _at, line in seen[:before]
                     if line.startswith("set ") and line.endswith(" ok")]
            lost = [key for key in acked
                    if host.get(key) != f"value-{key.split('-')[1]}".encode()]
        finally:
            backend.close()
    finally:
        if guest.poll() is None:
            guest.kill()
            guest.wait()
    calls = [line for _at, line in seen]
    after = seen[before:]
    unavailable = [at for at, line in after if line.endswith(" error unavailable")]
    back = next(at for at, line in after if at > unavailable[-1] and line.endswith(" ok"))
    report(f"Redis Cluster failover (3 masters + 3 replicas, cluster-node-timeout 500 ms, "
           f"master SIGKILLed): first unavailable {unavailable[0] - killed_at:.2f} s after the "
           f"kill, {len(unavailable)} calls answered unavailable, first ok "
           f"{back - killed_at:.2f} s after the kill; {len(acked)} writes acked before the "
           f"kill, {len(lost)} lost")
    assert guest.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    assert promoted.port != master.port  # the replica took the slot over
    errors = {line.split(" error ")[1] for line in calls if " error " in line}
    assert errors <= {"unavailable", "not-found"}, errors  # never `internal`, never a trap
    assert not [line for line in calls if line.endswith(" wrong")], calls
