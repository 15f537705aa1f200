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
import textwrap

# The digits MLP training of the benchmark below, and the same steps written with NumPy alone
# (the floor for ember: a reference row runs it in ember's column against torch's run).
_DIGITS_MLP = """
import numpy as np
from ember.datasets import load_digits
images, labels = load_digits()
rng = np.random.default_rng(0)
x_all = lib.tensor(images.reshape(-1, 64).astype(np.float32) / 16)
y_all = lib.tensor(labels.astype(np.int64))
sizes = [64, 256, 256, 10]
def fresh_model():
    # the same initial weights in both libraries, from NumPy
    init = np.random.default_rng(1)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(lib.tensor(init.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                                 requires_grad=True))
        params.append(lib.tensor(init.uniform(-bound, bound, fan_out).astype(np.float32),
                                 requires_grad=True))
    return params
orders = [lib.tensor(rng.permutation(len(labels))) for _ in range(5)]
F = lib.nn.functional
final_loss = []
def run():
    params = fresh_model()
    opt = lib.optim.SGD(params, lr=0.05)
    w1, b1, w2, b2, w3, b3 = params
    for order in orders:
        for start in range(0, len(order), 32):
            index = order[start:start + 32]
            xb, yb = x_all[index], y_all[index]
            h = F.relu(F.linear(xb, w1, b1))
            h = F.relu(F.linear(h, w2, b2))
            loss = F.cross_entropy(F.linear(h, w3, b3), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    final_loss[:] = [loss.item()]
def result():
    return final_loss[0]
OPS = 5
"""

_DIGITS_MLP_NUMPY = """
import numpy as np
from ember.datasets import load_digits
images, labels = load_digits()
rng = np.random.default_rng(0)
sizes = [64, 256, 256, 10]
orders = [rng.permutation(len(labels)) for _ in range(5)]
final_loss = []
x_all = images.reshape(-1, 64).astype(np.float32) / 16
y_all = labels.astype(np.int64)
def fresh_model():
    init = np.random.default_rng(1)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(init.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(init.uniform(-bound, bound, fan_out).astype(np.float32))
    return params
def run():
    params = fresh_model()
    w1, b1, w2, b2, w3, b3 = params
    for order in orders:
        for start in range(0, len(order), 32):
            index = order[start:start + 32]
            x, y = x_all.take(index, 0), y_all.take(index, 0)
            a1 = x @ w1.T
            a1 += b1
            h1 = np.maximum(a1, 0)
            a2 = h1 @ w2.T
            a2 += b2
            h2 = np.maximum(a2, 0)
            z = h2 @ w3.T
            z += b3
            z -= z.max(1, keepdims=True)
            e = np.exp(z)
            total = e.sum(1, keepdims=True)
            rows = np.arange(len(y))
            loss = -(z[rows, y] - np.log(total[:, 0])).mean()
            g = e / total
            g[rows, y] -= 1
            g /= len(y)
            grads = [None, None, g.T @ h2, g.sum(0)]
            g = g @ w3
            g *= a2 > 0
            grads[:2] = g.T @ h1, g.sum(0)
            g = g @ w2
            g *= a1 > 0
            grads[:0] = g.T @ x, g.sum(0)
            for p, gp in zip(params, grads):
                p -= np.float32(0.05) * gp
    final_loss[:] = [float(loss)]
def result():
    return final_loss[0]
OPS = 5
"""


def _numpy_in_ember_column(numpy_source: str, torch_source: str) -> str:
    """A workload running ``numpy_source`` where ember would run, ``torch_source`` for torch."""
    return (f"if lib.__name__ == 'ember':\n{textwrap.indent(numpy_source, '    ')}"
            f"else:\n{textwrap.indent(torch_source, '    ')}")


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
    "CNN step: conv2d 1->16 3x3 on 64x1x28x28, relu, max_pool2d(2), linear, loss, backward": """
lib.manual_seed(0)
F = lib.nn.functional
x = lib.randn(64, 1, 28, 28)
w1 = (lib.randn(16, 1, 3, 3) * 0.3).requires_grad_()
b1 = lib.zeros(16, requires_grad=True)
w2 = (lib.randn(10, 16 * 13 * 13) * 0.01).requires_grad_()
b2 = lib.zeros(10, requires_grad=True)
target = lib.randint(0, 10, (64,))
def run():
    h = F.max_pool2d(lib.relu(F.conv2d(x, w1, b1)), 2)
    logits = F.linear(h.flatten(1), w2, b2)
    loss = F.cross_entropy(logits, target)
    loss.backward()
OPS = 1
""",
    "digits MLP 64-256-256-10 (ReLU), batch 32, SGD lr 0.05, 5 epochs (per epoch)": _DIGITS_MLP,
    "reference: the digits MLP step hand-written in NumPy (NumPy in ember's column)":
        _numpy_in_ember_column(_DIGITS_MLP_NUMPY, _DIGITS_MLP),
    "Hessian of sum(tanh(A @ x)), n=100, float64, autograd.functional.hessian (ms per call)": """
import numpy as np
_rng = np.random.default_rng(0)
_a = _rng.standard_normal((100, 100)) / 10
_x = _rng.standard_normal(100)
A = lib.tensor(_a)
x = lib.tensor(_x)
def f(v):
    return lib.tanh(A @ v).sum()
_t = np.tanh(_a @ _x)
_analytic = _a.T @ np.diag(-2 * _t * (1 - _t ** 2)) @ _a
_err = np.abs(lib.autograd.functional.hessian(f, x).numpy() - _analytic).max()
assert _err <= 1e-10, f"max abs difference from the analytic Hessian: {_err}"
def run():
    lib.autograd.functional.hessian(f, x)
OPS = 1000  # report milliseconds
""",
    "random init: Linear(64,32), Linear(784,256), randn(3,4), randn(32,64), rand(32,64)": """
import numpy as np
drawn = []
def run():
    lib.manual_seed(0)
    small, big = lib.nn.Linear(64, 32), lib.nn.Linear(784, 256)
    drawn[:] = [small.weight, small.bias, big.weight, big.bias,
                lib.randn(3, 4), lib.randn(32, 64), lib.rand(32, 64)]
def result():
    # the same stream in both libraries: the values agree bit for bit
    return float(sum(np.asarray(t.detach().numpy(), dtype=np.float64).sum() for t in drawn))
OPS = 1
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
result = ns["result"]() if "result" in ns else None
print(json.dumps({"seconds": best, "ops": ns["OPS"], "result": result}))
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
        if e.get("result") is not None:
            print(f"{'':4s}result: ember {e['result']!r}, torch {t['result']!r}, "
                  f"difference {abs(e['result'] - t['result']):.2e}")


if __name__ == "__main__":
    main()
