"""What a guest did, for ``wasmcache run --stats``: calls, results, bytes, latency per operation.

`Stats` is an observer (`wasmcache.observe`): it reads the same measurements telemetry does.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .observe import Call

#: Listed even when the guest never called them (the cache interface's three functions).
ALWAYS_SHOWN = ("set", "get", "delete")


@dataclass
class OperationStats:
    calls: int = 0
    results: Counter[str] = field(default_factory=Counter)
    bytes_in: int = 0  # from the guest to the host (values set)
    bytes_out: int = 0  # from the host to the guest (values got)
    latencies_ns: list[int] = field(default_factory=list)


def percentile(sorted_values: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return 0
    rank = max(1, -(-len(sorted_values) * fraction // 1))
    return sorted_values[int(rank) - 1]


class Stats:
    """Collects every call of a run; rendered once when the guest ends.

    Runs of one `Guest` in several threads share it, hence the lock.
    """

    def __init__(self) -> None:
        self.ops: dict[str, OperationStats] = defaultdict(OperationStats)
        self._lock = threading.Lock()

    def record(self, call: Call) -> None:
        with self._lock:
            entry = self.ops[call.operation]
            entry.calls += 1
            entry.results[call.outcome] += 1
            entry.bytes_in += call.bytes_in
            entry.bytes_out += call.bytes_out
            entry.latencies_ns.append(call.duration_ns)

    def render(self) -> str:
        header = ("op", "calls", "results", "bytes in", "bytes out", "p50 µs", "p99 µs")
        rows = [header]
        names = [*ALWAYS_SHOWN, *sorted(op for op in self.ops if op not in ALWAYS_SHOWN)]
        for op in names:
            entry = self.ops.get(op)
            if entry is None:
                rows.append((op, "0", "-", "0", "0", "-", "-"))
                continue
            lat = sorted(entry.latencies_ns)
            results = " ".join(f"{name}={count}" for name, count in sorted(entry.results.items()))
            rows.append((op, str(entry.calls), results, str(entry.bytes_in),
                         str(entry.bytes_out), f"{percentile(lat, 0.50) / 1000:.1f}",
                         f"{percentile(lat, 0.99) / 1000:.1f}"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["wasmcache stats:"]
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        return "\n".join(line.rstrip() for line in lines)
