"""See the autograd graph: ``ember.viz.draw(y)`` returns a picture of what ``y.backward()``
will walk through.

One box per backward node, named as torch names it (``MulBackward0``, ``AccumulateGrad``...),
with the leaves labelled by their variable names; arrows point the way gradients flow, from
the output down to the leaves, and carry the shape and dtype of the gradient on them. ember
lays the graph out itself (a layered drawing, top to bottom), so SVG needs no external program;
``.source`` is the same graph in graphviz's DOT language, ``.text()`` a tree for terminals.
"""

from __future__ import annotations

import html
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ember._tensor import Tensor

__all__ = ["Graph", "draw"]

_CHAR_WIDTH = 7.2  # px per character of the 12px monospace font the SVG uses
_LINE_HEIGHT = 15
_LAYER_GAP = 70
_NODE_GAP = 24
_PAD = 8
_SMALL = 6  # saved values and grads with at most this many elements are shown in full


@dataclass
class GraphNode:
    """One box: a backward node (or an output tensor without history)."""

    key: int
    title: str
    lines: list[str] = field(default_factory=list)
    kind: str = "op"  # "op", "leaf", "output" or "released"
    layer: int = 0
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0


@dataclass
class GraphEdge:
    source: int
    target: int
    label: str


def _shape_text(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _dtype_text(numpy_dtype) -> str:
    return str(np.dtype(numpy_dtype))


def _value_text(array: np.ndarray) -> str:
    if array.size <= _SMALL:
        return np.array2string(np.asarray(array), precision=4, separator=", ")
    return f"{_shape_text(array.shape)} {array.dtype}"


def _caller_names(frame) -> dict[int, str]:
    """id(tensor) -> the name it has in the caller's frame (locals over globals)."""
    names: dict[int, str] = {}
    if frame is None:
        return names
    for scope in (frame.f_globals, frame.f_locals):
        for name, value in scope.items():
            if isinstance(value, Tensor) and not name.startswith("_"):
                names[id(value)] = name
    return names


class Graph:
    """The autograd graph behind some tensors, laid out and ready to render."""

    def __init__(self, nodes: dict[int, GraphNode], edges: list[GraphEdge]) -> None:
        self.nodes = nodes
        self.edges = edges
        self._layout()

    # ----- layout: layers by longest path from the outputs, order by barycenters ----------
    def _layout(self) -> None:
        children: dict[int, list[int]] = {k: [] for k in self.nodes}
        parents: dict[int, list[int]] = {k: [] for k in self.nodes}
        for edge in self.edges:
            children[edge.source].append(edge.target)
            parents[edge.target].append(edge.source)
        # Longest distance from a root, computed in topological order (Kahn), no recursion.
        waiting = {k: len(parents[k]) for k in self.nodes}
        ready = [k for k, n in waiting.items() if n == 0]
        order = []
        while ready:
            k = ready.pop()
            order.append(k)
            for child in children[k]:
                self.nodes[child].layer = max(self.nodes[child].layer, self.nodes[k].layer + 1)
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        layers: dict[int, list[int]] = {}
        for k in order:
            layers.setdefault(self.nodes[k].layer, []).append(k)
        for _ in range(4):  # a few barycenter sweeps reduce edge crossings
            for depth in sorted(layers)[1:]:
                above = {k: i for i, k in enumerate(layers.get(depth - 1, []))}
                layers[depth].sort(key=lambda k: np.mean([above[p] for p in parents[k]
                                                          if p in above] or [0]))
        for node in self.nodes.values():
            node.width = max(len(line) for line in [node.title, *node.lines]) * _CHAR_WIDTH
            node.width += 2 * _PAD
            node.height = (1 + len(node.lines)) * _LINE_HEIGHT + 2 * _PAD
        widths = {d: sum(self.nodes[k].width for k in ks) + _NODE_GAP * (len(ks) - 1)
                  for d, ks in layers.items()}
        self.width = max(widths.values(), default=0) + 2 * _NODE_GAP
        y = _NODE_GAP
        for depth in sorted(layers):
            x = (self.width - widths[depth]) / 2
            tallest = 0.0
            for k in layers[depth]:
                node = self.nodes[k]
                node.x, node.y = x, y
                x += node.width + _NODE_GAP
                tallest = max(tallest, node.height)
            y += tallest + _LAYER_GAP
        self.height = y - _LAYER_GAP + _NODE_GAP

    # ----- renderings ---------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The graph in graphviz's DOT language (``dot -Tpng``)."""
        lines = ["digraph autograd {", '  node [shape=box, fontname="monospace", fontsize=10];']
        colors = {"leaf": "lightblue", "output": "darkolivegreen1", "released": "lightgrey",
                  "op": "white"}
        ids = {k: f"n{i}" for i, k in enumerate(self.nodes)}
        for k, node in self.nodes.items():
            label = "\\n".join(_dot_escape(t) for t in [node.title, *node.lines])
            lines.append(f'  {ids[k]} [label="{label}", style=filled, '
                         f'fillcolor={colors[node.kind]}];')
        for edge in self.edges:
            lines.append(f'  {ids[edge.source]} -> {ids[edge.target]} '
                         f'[label="{_dot_escape(edge.label)}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def svg(self) -> str:
        """The drawing as an SVG document."""
        fills = {"leaf": "#dbeafe", "output": "#dcfce7", "released": "#e5e7eb", "op": "#ffffff"}
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" '
               f'height="{self.height:.0f}" viewBox="0 0 {self.width:.0f} {self.height:.0f}" '
               'font-family="monospace" font-size="12">',
               '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
               'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
               '<path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>',
               f'<rect width="{self.width:.0f}" height="{self.height:.0f}" fill="white"/>']
        for edge in self.edges:
            a, b = self.nodes[edge.source], self.nodes[edge.target]
            x1, y1 = a.x + a.width / 2, a.y + a.height
            x2, y2 = b.x + b.width / 2, b.y
            out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                       'stroke="#444" stroke-width="1.2" marker-end="url(#arrow)"/>')
            out.append(f'<text x="{(x1 + x2) / 2 + 4:.1f}" y="{(y1 + y2) / 2:.1f}" '
                       f'fill="#b45309" font-size="10">{html.escape(edge.label)}</text>')
        for node in self.nodes.values():
            dash = ' stroke-dasharray="4 3"' if node.kind == "released" else ""
            out.append(f'<g class="node"><rect x="{node.x:.1f}" y="{node.y:.1f}" '
                       f'width="{node.width:.1f}" height="{node.height:.1f}" rx="4" '
                       f'fill="{fills[node.kind]}" stroke="#333"{dash}/>')
            for i, text in enumerate([node.title, *node.lines]):
                weight = ' font-weight="bold"' if i == 0 else ""
                out.append(f'<text x="{node.x + _PAD:.1f}" '
                           f'y="{node.y + _PAD + (i + 0.8) * _LINE_HEIGHT:.1f}"{weight}>'
                           f"{html.escape(text)}</text>")
            out.append("</g>")
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def _repr_svg_(self) -> str:  # Jupyter shows the graph inline
        return self.svg()

    def text(self) -> str:
        """The graph as a tree drawn with box characters; a node met again is referred to."""
        children: dict[int, list[GraphEdge]] = {k: [] for k in self.nodes}
        has_parent = set()
        for edge in self.edges:
            children[edge.source].append(edge)
            has_parent.add(edge.target)
        roots = [k for k in self.nodes if k not in has_parent]
        seen: set[int] = set()
        lines: list[str] = []
        stack = [(k, "", "", None) for k in reversed(roots)]
        while stack:  # depth first, without recursion
            key, lead, child_lead, label = stack.pop()
            node = self.nodes[key]
            details = f"  ({'; '.join(node.lines)})" if node.lines else ""
            via = f" <- {label}" if label else ""
            if key in seen:
                lines.append(f"{lead}{node.title}{via}  (shown above)")
                continue
            seen.add(key)
            lines.append(f"{lead}{node.title}{details}{via}")
            kids = children[key]
            for i in reversed(range(len(kids))):
                last = i == len(kids) - 1
                stack.append((kids[i].target, child_lead + ("└── " if last else "├── "),
                              child_lead + ("    " if last else "│   "), kids[i].label))
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write ``.svg``, ``.dot``/``.gv`` or ``.png`` (PNG needs matplotlib)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            path.write_text(self.svg(), encoding="utf-8")
        elif suffix in (".dot", ".gv"):
            path.write_text(self.source, encoding="utf-8")
        elif suffix == ".png":
            self._save_png(path)
        else:
            raise ValueError(f"ember.viz: cannot save as {suffix!r}; use .svg, .dot, .gv or .png")
        return path

    def _save_png(self, path: Path) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from matplotlib.patches import FancyArrowPatch, Rectangle
        except ImportError:
            raise ImportError("ember.viz: saving PNG needs matplotlib (pip install matplotlib); "
                              "or save as .svg, which needs nothing") from None
        dpi = 100
        figure = plt.figure(figsize=(self.width / dpi, self.height / dpi), dpi=dpi)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(0, self.width)
        axes.set_ylim(self.height, 0)
        axes.axis("off")
        fills = {"leaf": "#dbeafe", "output": "#dcfce7", "released": "#e5e7eb", "op": "white"}
        for edge in self.edges:
            a, b = self.nodes[edge.source], self.nodes[edge.target]
            axes.add_patch(FancyArrowPatch((a.x + a.width / 2, a.y + a.height),
                                           (b.x + b.width / 2, b.y), arrowstyle="-|>",
                                           mutation_scale=10, color="#444"))
        for node in self.nodes.values():
            axes.add_patch(Rectangle((node.x, node.y), node.width, node.height,
                                     facecolor=fills[node.kind], edgecolor="#333"))
            for i, text in enumerate([node.title, *node.lines]):
                axes.text(node.x + _PAD, node.y + _PAD + (i + 0.8) * _LINE_HEIGHT, text,
                          family="monospace", fontsize=8, weight="bold" if i == 0 else None)
        figure.savefig(path, dpi=dpi)
        plt.close(figure)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def draw(*tensors: Tensor, params: dict[str, Tensor] | None = None, show_saved: bool = False,
         show_grad: bool = False) -> Graph:
    """The autograd graph behind ``tensors``.

    Leaves are named from ``params`` (e.g. ``dict(model.named_parameters())``) or else from
    the caller's variables. ``show_saved`` lists what each node saved for backward (or that
    it was already freed); ``show_grad`` shows each leaf's current ``.grad``.
    """
    frame = inspect.currentframe()
    names = _caller_names(frame.f_back if frame is not None else None)
    del frame
    if params:
        names.update({id(t): name for name, t in params.items()})
    nodes: dict[int, GraphNode] = {}
    edges: list[GraphEdge] = []

    def describe_tensor(t: Tensor) -> str:
        return f"{_shape_text(t.shape)} {_dtype_text(t._array.dtype)}"

    pending = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"ember.viz.draw expects tensors, got {type(t).__name__}")
        name = names.get(id(t), f"output {i}" if len(tensors) > 1 else "output")
        key = -(i + 1)  # outputs get boxes of their own, above their grad_fn
        nodes[key] = GraphNode(key, name, [describe_tensor(t)], kind="output")
        root = t.grad_fn
        if root is None and t.requires_grad:
            root = t._grad_accumulator() if callable(getattr(t, "_grad_accumulator", None)) \
                else None
        if root is not None:
            edges.append(GraphEdge(key, id(root), describe_tensor(t)))
            pending.append(root)

    while pending:  # every node once, however many paths reach it
        fn = pending.pop()
        if id(fn) in nodes:
            continue
        nodes[id(fn)] = _describe_node(fn, names, show_saved, show_grad)
        for next_fn, input_nr in getattr(fn, "next_functions", ()):
            if next_fn is None:
                continue
            shape, dtype = next_fn._out_meta[input_nr]
            edges.append(GraphEdge(id(fn), id(next_fn),
                                   f"{_shape_text(shape)} {_dtype_text(dtype)}"))
            if id(next_fn) not in nodes:
                pending.append(next_fn)
    return Graph(nodes, edges)


def _describe_node(fn, names: dict[int, str], show_saved: bool, show_grad: bool) -> GraphNode:
    title = fn.name().removeprefix("torch::autograd::")
    variable = getattr(fn, "variable", None)
    if variable is not None:  # AccumulateGrad: the leaf it feeds
        label = names.get(id(variable), "leaf")
        lines = [f"{label}: {_shape_text(variable.shape)} {_dtype_text(variable._array.dtype)}"]
        if show_grad:
            grad = variable._grad
            lines.append("grad: None" if grad is None else f"grad: {_value_text(grad._array)}")
        return GraphNode(id(fn), title, lines, kind="leaf")
    lines: list[str] = []
    released = bool(getattr(fn, "_released", False))
    if show_saved:
        if released:
            lines.append("saved values freed (backward ran)")
        for field_name in getattr(fn, "_saved_fields", ()):
            value = getattr(fn, field_name, None)
            if field_name == "_saved":  # a custom Function's save_for_backward
                lines.extend(f"saved[{i}]: {_saved_text(v, released)}"
                             for i, v in enumerate(value or ()))
                continue
            lines.append(f"{field_name.rstrip('_')}: {_saved_text(value, released)}")
    return GraphNode(id(fn), title, lines, kind="released" if released else "op")


def _saved_text(value: Any, released: bool = False) -> str:
    if value is None:  # dropped by backward, or never saved (torch saves only what it needs)
        return "freed" if released else "None"
    tensor = getattr(value, "tensor", None)
    array = getattr(value, "array", None)
    if isinstance(tensor, Tensor):
        return _value_text(tensor._array)
    if isinstance(array, np.ndarray):
        return _value_text(array)
    if isinstance(value, np.ndarray):
        return _value_text(value)
    if isinstance(value, Tensor):
        return _value_text(value._array)
    return repr(value) if len(repr(value)) <= 40 else type(value).__name__

