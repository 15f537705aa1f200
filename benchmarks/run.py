"""Side-by-side benchmarks of ember and torch, each in its own single-threaded subprocess.

Prints per-op times and the ratio ember/torch (below 1 means ember is faster). Not a test:
the machines are shared and noisy, so quote the ratios, measured in one run.

    python benchmarks/run.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

# Each workload is source text run with `lib` bound to ember or torch; it defines run().
WORKLOADS = {
    "chain of 2000 tiny elementwise ops + backward (3-element float32)": """
x = lib.ones(3, requires_grad=True)
def run():
    y = x
    for _ in range(1000):
        y = y * 0.999
        y = y + 0.001
    y.sum().backward()
OPS = 2000
""",
    "forward only: 2000 tiny elementwise ops (no grad)": """
x = lib.ones(3)
def run():
    y = x
    for _ in range(1000):
        y = y * 0.999
        y = y + 0.001
OPS = 2000
""",
    "MLP step: 64x32 @ 32x32, tanh, sum, backward, SGD (x50)": """
lib.manual_seed(0)
w1 = lib.randn(32, 32, requires_grad=True)
w2 = lib.randn(32, 1, requires_grad=True)
inp = lib.randn(64, 32)
opt = lib.optim.SGD([w1, w2], lr=0.01)
def run():
    for _ in range(50):
        opt.zero_grad()
        loss = ((inp @ w1).tanh() @ w2).pow(2).mean()
        loss.backward()
        opt.step()
OPS = 50
""",
    "10 million float32 normals: randn(10_000_000) (us per call)": """
lib.manual_seed(0)
def run():
    lib.randn(10_000_000)
OPS = 1
""",
}

CHILD = r"""
import json, os, sys, time
name = sys.argv[1]
if name == "torch":
    import torch as lib
    lib.set_num_threads(1)
else:
    import ember as lib
src = sys.stdin.read()
repeat = int(sys.argv[2])
ns = {"lib": lib}
exec(src, ns)
ns["run"]()  # warm-up
best = float("inf")
for _ in range(repeat):
    t = time.perf_counter()
    ns["run"]()
    best = min(best, time.perf_counter() - t)
print(json.dumps({"seconds": best, "ops": ns["OPS"]}))
"""


def measure(library: str, source: str, repeat: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, library, str(repeat)],
        input=source, capture_output=True, text=True, env=env, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'workload':70s} {'ember us/op':>12s} {'torch us/op':>12s} {'ratio':>7s}")
    for title, source in WORKLOADS.items():
        e = measure("ember", source, args.repeat)
        t = measure("torch", source, args.repeat)
        eu, tu = e["seconds"] / e["ops"] * 1e6, t["seconds"] / t["ops"] * 1e6
        print(f"{title:70s} {eu:12.2f} {tu:12.2f} {eu / tu:7.2f}")


if __name__ == "__main__":
    main()
