"""This checkout against another installation of wasmcache, in one run, as paired rounds.

    .venv/bin/python -m bench.versus --other ../base/.venv/bin/wasmcache [--rounds 7]
        [--only memory,Redis] [--env-a NAME=VALUE] [--env-b NAME=VALUE]

Each round runs the bench guest once through this checkout's ``wasmcache`` (A) and once
through ``--other`` (B: a git worktree of the previous commit with its own venv, say), back to
back, in alternating order, for every operation; the table gives the median µs per call of each
and the median of the paired ratios B/A (above 1: A is faster). ``--env-a``/``--env-b`` add
environment variables to one side only (A with telemetry on against B with it off, say).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.run import BACKENDS, MIB, ROOT, WASMCACHE, build_guest, run_guest

OPERATIONS = [("set", 100, 2000), ("get", 100, 2000), ("delete", 100, 2000),
              ("set", MIB, 20), ("get", MIB, 20)]


def _env(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.versus",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="the other installation's wasmcache")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default="memory,disk,SQLite,Redis")
    parser.add_argument("--env-a", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--env-b", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    guest = build_guest("bench_guest")
    sides = {"A": (WASMCACHE, _env(args.env_a)), "B": (args.other, _env(args.env_b))}
    print(f"A = {WASMCACHE} {args.env_a or ''}\nB = {args.other} {args.env_b or ''}\n")
    print("| backend | op | size | A µs/call | B µs/call | B/A (median of pairs) | "
          "B/A per round |")
    print("|---|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="wasmcache-versus-") as tmp_name:
        tmp = Path(tmp_name)
        for label, _scheme, url_of in BACKENDS:
            if label not in args.only.split(","):
                continue
            url = url_of(tmp)
            for op, size, iterations in OPERATIONS:
                specs = [f"{op}:{size}:{iterations}"]
                times: dict[str, list[float]] = {"A": [], "B": []}
                for round_ in range(args.rounds):
                    order = ("A", "B") if round_ % 2 == 0 else ("B", "A")
                    for side in order:
                        command, env = sides[side]
                        lines = run_guest(guest, url, specs, env, wasmcache=command)[0]
                        line = next(line for line in lines if line["op"] == op)
                        times[side].append(line["ns"] / line["iterations"] / 1000)
                ratios = [b / a for a, b in zip(times["A"], times["B"], strict=True)]
                size_label = "1 MiB" if size == MIB else "100 B"
                print(f"| {label} | {op} | {size_label} | {statistics.median(times['A']):,.1f} "
                      f"| {statistics.median(times['B']):,.1f} | "
                      f"{statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} |",
                      flush=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
