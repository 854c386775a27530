"""What a guest did, for ``wasmcache run --stats``: calls, results, bytes, latency per op."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

OPERATIONS = ("set", "get", "delete")


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
    """Collects one record per call; rendered once when the guest ends.

    Runs of one `Guest` in several threads share it, hence the lock.
    """

    def __init__(self) -> None:
        self.ops: dict[str, OperationStats] = defaultdict(OperationStats)
        self._lock = threading.Lock()

    def record(self, op: str, result: str, elapsed_ns: int, bytes_in: int = 0,
               bytes_out: int = 0) -> None:
        with self._lock:
            entry = self.ops[op]
            entry.calls += 1
            entry.results[result] += 1
            entry.bytes_in += bytes_in
            entry.bytes_out += bytes_out
            entry.latencies_ns.append(elapsed_ns)

    def render(self) -> str:
        header = ("op", "calls", "results", "bytes in", "bytes out", "p50 µs", "p99 µs")
        rows = [header]
        for op in OPERATIONS:
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
