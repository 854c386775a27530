"""The pooled engine `wasmcache.Guest` runs on: shared by the process's guests, really pooled,
and an ordinary engine wherever pooling cannot be had.

Whether a pooled slot's reuse leaks one run's memory into the next is shown by
tests/test_guest.py (`visits` fails when it sees an earlier run's counter); its speed by
``python -m bench.invocations``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from wasmcache import Guest, _wasmtime
from wasmcache.runner import make_engine, shared_engine

TIB = 1 << 40
#: makes an engine in a fresh process; prints how much address space that took and whether a
#: guest then runs on it
_PROBE = """
import json, sys
from wasmcache import Guest
from wasmcache.runner import make_engine

def vm_size():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024

before = vm_size()
engine = make_engine(pooled=True)
grew = vm_size() - before
with Guest(sys.argv[1], "memory://", engine=engine) as guest:
    status = guest.run().status
print(json.dumps({"grew": grew, "status": status}))
"""


def _probe(guest: Path, address_space: int | None = None) -> dict:
    def limit() -> None:
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    done = subprocess.run([sys.executable, "-c", _PROBE, str(guest)], capture_output=True,
                          text=True, preexec_fn=limit, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_guests_share_one_pooled_engine(wat_guest) -> None:
    with Guest(wat_guest("visits"), "memory://") as one, \
            Guest(wat_guest("echo"), "memory://") as two:
        assert one.engine is two.engine is shared_engine()
        assert one.run().status == two.run().status == 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_a_pooled_engine_reserves_its_slots_up_front(wat_guest) -> None:
    assert _wasmtime.POOLING_PROBLEM is None
    assert _probe(wat_guest("visits")) == {"grew": pytest.approx(4 * TIB, rel=0.1),
                                           "status": 0}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_under_an_address_space_limit_the_engine_is_not_pooled(wat_guest) -> None:
    """``ulimit -v`` would make the pool's reservation fail (Wasmtime aborts the process)."""
    result = _probe(wat_guest("visits"), address_space=16 << 30)
    assert result["status"] == 0
    assert result["grew"] < (1 << 30)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_without_the_c_functions_the_config_is_left_alone(monkeypatch) -> None:
    from wasmtime import Config

    monkeypatch.setattr(_wasmtime, "POOLING_PROBLEM", "the pooling allocator's C functions "
                        "are missing: test")
    assert _wasmtime.use_pooling_allocator(Config(), 1 << 20) is False
    before = _vm_size()
    engine = make_engine(pooled=True)  # an ordinary engine, no error
    assert _vm_size() - before < TIB
    del engine


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize in /proc/self/status")
