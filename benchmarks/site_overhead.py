"""What recording each node's creation site costs, in instructions counted by callgrind.

Runs the overhead workload of ``benchmarks/run.py`` (a chain of 2000 tiny elementwise ops and
its backward) under ``valgrind --tool=callgrind``, once with ember as it is and once with the
creation-site block of ``new_node`` removed, and prints the instructions per run of each and
the overhead in percent. Instruction counts, unlike times, do not depend on what else the
shared machine is doing. Each variant runs twice (1 and 1 + N workload runs after a warm-up)
and the difference is divided by N, so start-up and imports cancel out.

They do depend on the memory layout: CPython's type attribute cache is indexed by the
addresses of attribute names, so one layout can make a few hot lookups collide and miss on
every call (measured for the same code: 6-7% with hash seed 0, 4.0% with seeds 1 to 3).
The count is therefore taken under several ``PYTHONHASHSEED`` values (each gives another
layout) and the median is the result.

    python benchmarks/site_overhead.py [--runs N] [--seeds K] [--workload "MLP step"]

(``--workload`` picks another workload of run.py by the start of its title.)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import gc, inspect, os, sys, textwrap
sys.path.insert(0, HERE)
import ember
from ember.autograd import graph
assert ember.__file__.startswith(os.environ["PYTHONPATH"]), ember.__file__  # the snapshot
from run import WORKLOADS

if MODE == "off":
    # new_node without its creation-site block (between the two marker comments).
    lines = textwrap.dedent(inspect.getsource(graph.new_node)).splitlines(keepends=True)
    begin = next(i for i, s in enumerate(lines) if "creation site:" in s)
    end = next(i for i, s in enumerate(lines) if "end of creation site" in s)
    source = "".join(lines[:begin] + lines[end + 1:])
    namespace = {}
    exec(compile(source, graph.__file__, "exec"), graph.__dict__, namespace)
    graph.new_node.__code__ = namespace["new_node"].__code__

source = next(s for title, s in WORKLOADS.items() if title.startswith(WORKLOAD))
ns = {"lib": ember}
exec(source, ns)
ns["run"]()  # warm-up (fills caches, such as the files known to be the user's)
# Objects alive now (imports) are left out of garbage collections from here on, so a full
# collection falling into one count and not the other does not swing the difference.
gc.collect()
gc.freeze()
for _ in range(RUNS):
    ns["run"]()
"""


def instructions(mode: str, runs: int, workload: str, snapshot: str, seed: int) -> int:
    """Instructions callgrind counts for the whole child process (ember from ``snapshot``)."""
    code = f"HERE = {HERE!r}; MODE = {mode!r}; RUNS = {runs}; WORKLOAD = {workload!r}\n" + CHILD
    env = dict(os.environ, PYTHONHASHSEED=str(seed), OMP_NUM_THREADS="1", PYTHONPATH=snapshot,
               PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
             sys.executable, "-c", code],
            capture_output=True, text=True, env=env, check=True, cwd=snapshot,
        )
    return int(re.search(r"Collected\s*:\s*(\d+)", out.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2, help="workload runs to count (N)")
    parser.add_argument("--seeds", type=int, default=3, help="memory layouts (hash seeds) to try")
    parser.add_argument("--workload", default="chain of 2000", help="start of a run.py title")
    args = parser.parse_args()
    overheads = []
    with tempfile.TemporaryDirectory() as snapshot:
        # All counts run the same copy of ember: the checkout may change meanwhile.
        shutil.copytree(os.path.join(HERE, "..", "src", "ember"), os.path.join(snapshot, "ember"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for seed in range(args.seeds):
            per_run = {}
            for mode in ("off", "on"):
                one = instructions(mode, 1, args.workload, snapshot, seed)
                more = instructions(mode, 1 + args.runs, args.workload, snapshot, seed)
                per_run[mode] = (more - one) / args.runs
            overheads.append(100 * (per_run["on"] / per_run["off"] - 1))
            print(f"hash seed {seed}: {per_run['off'] / 1e6:8.2f}M instructions per run without "
                  f"creation sites, {per_run['on'] / 1e6:8.2f}M with: {overheads[-1]:.1f}%")
    print(f"creation-site overhead (median over {args.seeds} layouts): "
          f"{statistics.median(overheads):.1f}%")


if __name__ == "__main__":
    main()
