"""What recording each node's creation site costs, in instructions counted by callgrind.

Runs the overhead workload of ``benchmarks/run.py`` (a chain of 2000 tiny elementwise ops and
its backward) under ``valgrind --tool=callgrind``, once with ember as it is and once with the
creation-site block of ``new_node`` removed, and prints the instructions per run of each and
the overhead in percent. Instruction counts, unlike times, do not depend on what else the
shared machine is doing. Each variant runs twice (1 and 1 + N workload runs after a warm-up)
and the difference is divided by N, so start-up and imports cancel out.

    python benchmarks/site_overhead.py [--runs N] [--workload "MLP step"]

(``--workload`` picks another workload of run.py by the start of its title.)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import inspect, sys, textwrap
sys.path.insert(0, HERE)
import ember
from ember.autograd import graph
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
ns["run"]()  # warm-up (fills caches such as the creation-site depths)
for _ in range(RUNS):
    ns["run"]()
"""


def instructions(mode: str, runs: int, workload: str) -> int:
    """Instructions callgrind counts for the whole child process."""
    code = f"HERE = {HERE!r}; MODE = {mode!r}; RUNS = {runs}; WORKLOAD = {workload!r}\n" + CHILD
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
             sys.executable, "-c", code],
            capture_output=True, text=True, env=env, check=True,
        )
    return int(re.search(r"Collected\s*:\s*(\d+)", out.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=4, help="workload runs to count (N)")
    parser.add_argument("--workload", default="chain of 2000", help="start of a run.py title")
    args = parser.parse_args()
    per_run = {}
    for mode in ("off", "on"):
        one = instructions(mode, 1, args.workload)
        more = instructions(mode, 1 + args.runs, args.workload)
        per_run[mode] = (more - one) / args.runs
        label = "without creation sites" if mode == "off" else "with creation sites   "
        print(f"{label}: {per_run[mode] / 1e6:8.2f}M instructions per run")
    print(f"creation-site overhead: {100 * (per_run['on'] / per_run['off'] - 1):.1f}%")


if __name__ == "__main__":
    main()
