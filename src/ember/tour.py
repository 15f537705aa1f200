"""A guided tour of ember: the autograd tutorials' programs, run with ``import ember as torch``.

Run it with ``python -m ember.tour`` (or ``make demo``). The programs in ``tour_programs/`` are
the tutorials' code as published (comments included, typos fixed) with one change: ``import
torch`` reads ``import ember as torch``. The tour prints each program and then what it printed,
which is what the tutorials show for PyTorch.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

PROGRAMS = Path(__file__).parent / "tour_programs"

TITLES = {
    "s01_scalar_backward": "backward() on a scalar: f(x) = a*x**2 + b*x + c at x = 0",
    "s02_nonscalar_backward": "backward() on a non-scalar needs a `gradient` of the same shape",
    "s03_nonscalar_via_scalar": "the same, as the backward of the scalar sum(y * gradient)",
    "s04_autograd_grad_second_order": "autograd.grad with create_graph=True: a second derivative",
    "s05_autograd_grad_many": "autograd.grad with several inputs and outputs (gradients add up)",
    "s06_sgd_minimum": "minimising f with an optimizer: optim.SGD",
    "s07_mean_backward": "out = mean(3 * (x + 2)**2): d(out)/dx = 3/2 * (x + 2)",
    "s08_vector_backward": "z.backward() and y.backward(ones) give the same gradient",
    "s09_jacobian_copyslices": "index assignment joins the graph (CopySlices); a Jacobian by "
                               "repeated backward",
    "s10_d2l_autograd": "y = 2 * dot(x, x); gradients accumulate until grad.zero_(); detach()",
    "s11_control_flow": "Python control flow: the graph is whatever ran (a.grad * a == d)",
}


def programs() -> list[tuple[str, str]]:
    """``(name, source)`` of every tour program, in order."""
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(PROGRAMS.glob("*.py"))]


def run_program(source: str) -> str:
    """Run one program's code and return what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(source, "<tour>", "exec"), {"__name__": "__tour__"})
    return buffer.getvalue()


def main() -> None:
    print("ember tour: PyTorch autograd tutorials, run with `import ember as torch`\n")
    for number, (name, source) in enumerate(programs(), 1):
        print(f"=== {number}. {TITLES.get(name, name)} ===")
        for line in source.strip("\n").splitlines():
            print(("    " + line).rstrip())
        print("--- output ---")
        print(run_program(source), end="")
        print()


if __name__ == "__main__":
    main()
