"""``python -m ember.demo_graph [dir]``: draw the seed example's autograd graph (SVG into
``dir``, default ``docs``; a tree in the terminal) and explain its backward pass step by step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ember as torch
from ember._explain import explain
from ember.viz import draw


def main(directory: str = "docs") -> None:
    a = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(-2.0, requires_grad=True)
    c = torch.tensor(1.0, requires_grad=True)
    x = torch.tensor(0.0, requires_grad=True)
    y = a * x**2 + b * x + c
    graph = draw(y, show_saved=True)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    graph.save(out / "seed_graph.svg")
    print("The graph of y = a*x**2 + b*x + c at x = 0 (arrows: the way gradients flow):\n")
    print(graph.text())
    print(f"(drawn to {out / 'seed_graph.svg'})\n")
    explain(y)


if __name__ == "__main__":
    main(*sys.argv[1:2])
