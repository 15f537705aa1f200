"""ember.viz.draw: the drawn graph is torch's graph (same nodes, same edges), labelled, and
renders to SVG (checked in headless Chromium), DOT (checked by graphviz's dot) and text."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections import Counter

import numpy as np
import pytest

import ember
from oracle import torch

IN_CI = os.environ.get("CI") == "true"


def seed_program(lib):
    """The seed tutorial's y = a x^2 + b x + c, with x used twice."""
    a = lib.tensor(1.0, requires_grad=True)
    b = lib.tensor(-2.0, requires_grad=True)
    c = lib.tensor(1.0, requires_grad=True)
    x = lib.tensor(0.0, requires_grad=True)
    return a * x**2 + b * x + c


def mlp_program(lib):
    lib.manual_seed(0)
    w = lib.randn(3, 4, requires_grad=True)
    v = lib.randn(4, 2, requires_grad=True)
    h = lib.tanh(lib.ones(5, 3) @ w)
    out = (h @ v).relu().sum() + (w * w).sum()
    z = lib.zeros(2, 2)
    z[0] = out * 2  # CopySlices
    return z.sum()


def torch_graph(t):
    """(Counter of node names, number of edges) of torch's graph behind ``t``."""
    names, edges, seen, stack = Counter(), 0, set(), [t.grad_fn]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        names[fn.name().removeprefix("torch::autograd::")] += 1
        for next_fn, _ in fn.next_functions:
            if next_fn is not None:
                edges += 1
                stack.append(next_fn)
    return names, edges


def ember_graph(graph):
    names = Counter(n.title for n in graph.nodes.values() if n.kind != "output")
    edges = sum(1 for e in graph.edges if graph.nodes[e.source].kind != "output")
    return names, edges


@pytest.mark.parametrize("program", [seed_program, mlp_program])
def test_nodes_and_edges_are_torchs(program):
    assert ember_graph(ember.viz.draw(program(ember))) == torch_graph(program(torch))


def _plain_name(fn) -> str:
    return fn.name().removeprefix("torch::autograd::")


def _torch_edge_names(t) -> Counter:
    pairs, seen, stack = Counter(), set(), [t.grad_fn]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        for next_fn, _ in fn.next_functions:
            if next_fn is not None:
                pairs[(_plain_name(fn), _plain_name(next_fn))] += 1
                stack.append(next_fn)
    return pairs


@pytest.mark.parametrize("program", [seed_program, mlp_program])
def test_edges_point_the_way_gradients_flow(program):
    graph = ember.viz.draw(program(ember))
    ours = Counter((graph.nodes[e.source].title, graph.nodes[e.target].title)
                   for e in graph.edges if graph.nodes[e.source].kind != "output")
    assert ours == _torch_edge_names(program(torch))
    (out,) = [e for e in graph.edges if graph.nodes[e.source].kind == "output"]
    assert graph.nodes[out.target].title == program(torch).grad_fn.name()


def test_leaves_named_from_the_callers_variables_and_from_params():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    weight = ember.ones(2, requires_grad=True)
    loss = (a * weight).sum()
    titles = {n.lines[0] for n in ember.viz.draw(loss).nodes.values() if n.kind == "leaf"}
    assert titles == {"a: [2] float32", "weight: [2] float32"}
    named = ember.viz.draw(loss, params={"layer.weight": weight})
    assert "layer.weight: [2] float32" in {n.lines[0] for n in named.nodes.values() if n.lines}
    assert [n.title for n in named.nodes.values() if n.kind == "output"] == ["loss"]


def test_shared_subgraphs_are_drawn_once():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = (h * h + h).sum()
    graph = ember.viz.draw(y)
    titles = Counter(n.title for n in graph.nodes.values())
    assert titles["ExpBackward0"] == 1 and titles["AccumulateGrad"] == 1
    assert "(shown above)" in graph.text()


def test_saved_values_grads_and_released_nodes():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x.sin() * 3).sum()
    before = ember.viz.draw(y, show_saved=True)
    sin = next(n for n in before.nodes.values() if n.title == "SinBackward0")
    assert sin.kind == "op" and sin.lines == ["self: [1., 2.]"]
    y.backward()
    after = ember.viz.draw(y, show_saved=True, show_grad=True)
    sin = next(n for n in after.nodes.values() if n.title == "SinBackward0")
    assert sin.kind == "released" and "saved values freed" in sin.lines[0]
    leaf = next(n for n in after.nodes.values() if n.kind == "leaf")
    expected = np.array2string(3 * np.cos(np.array([1.0, 2.0], np.float32)), precision=4,
                               separator=", ")
    assert leaf.lines[1] == f"grad: {expected}"
    assert "stroke-dasharray" in after.svg()


def test_values_not_saved_are_none_not_freed():
    def mm(lib):
        w = lib.ones(4, 3, requires_grad=True)
        return lib.ones(2, 4) @ w  # self needs no grad: torch saves only self, not mat2

    t = mm(torch).grad_fn
    graph = ember.viz.draw(mm(ember), show_saved=True)
    node = next(n for n in graph.nodes.values() if n.title == "MmBackward0")
    assert node.kind == "op"
    assert [line.split(": ")[1] == "None" for line in node.lines] == [
        t._saved_self is None, t._saved_mat2 is None]


def test_custom_function_saved_values_and_release():
    class Sq(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * x
            ctx.save_for_backward(x, None, y)
            return y

        @staticmethod
        def backward(ctx, g):
            x, _, _ = ctx.saved_tensors
            return 2 * g * x

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = Sq.apply(x)
    node = next(n for n in ember.viz.draw(y, show_saved=True).nodes.values()
                if n.title == "SqBackward")
    assert node.lines == ["saved[0]: [1., 2.]", "saved[1]: None", "saved[2]: [1., 4.]"]
    y.sum().backward()
    node = next(n for n in ember.viz.draw(y, show_saved=True).nodes.values()
                if n.title == "SqBackward")
    assert node.kind == "released" and node.lines == ["saved values freed (backward ran)"]


def test_edges_carry_the_gradient_shapes_and_dtypes():
    x = ember.ones(2, 3, dtype=ember.float64, requires_grad=True)
    y = x.sum(0)
    graph = ember.viz.draw(y)
    assert sorted(e.label for e in graph.edges) == ["[2, 3] float64", "[3] float64"]


def test_text_tree():
    x = ember.tensor(2.0, requires_grad=True)
    y = x.exp() * 3
    assert ember.viz.draw(y).text() == (
        "y  ([] float32)\n"
        "└── MulBackward0 <- [] float32\n"
        "    └── ExpBackward0 <- [] float32\n"
        "        └── AccumulateGrad  (x: [] float32) <- [] float32\n"
    )


def test_svg_is_well_formed_and_labelled():
    y = mlp_program(ember)
    graph = ember.viz.draw(y)
    root = ET.fromstring(graph.svg())
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    for node in graph.nodes.values():
        assert node.title in texts
    assert graph._repr_svg_() == graph.svg()
    # boxes in one layer never overlap
    boxes = sorted((n.y, n.x, n.width) for n in graph.nodes.values())
    for (y1, x1, w1), (y2, x2, _) in zip(boxes, boxes[1:]):
        assert y1 != y2 or x1 + w1 <= x2


def test_big_and_deep_graphs_lay_out_without_recursion():
    x = ember.ones(2, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    graph = ember.viz.draw(y.sum())
    assert len(graph.nodes) == 5000 + 3
    assert graph.text().count("\n") == 5003
    wide = sum((x * float(i)).sin() for i in range(300))
    assert len(ember.viz.draw(wide).nodes) > 600


def test_save_formats(tmp_path):
    graph = ember.viz.draw(seed_program(ember))
    assert graph.save(tmp_path / "g.svg").read_text().startswith("<svg")
    assert graph.save(tmp_path / "g.dot").read_text().startswith("digraph")
    with pytest.raises(ValueError, match="cannot save"):
        graph.save(tmp_path / "g.bmp")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs matplotlib"):
            graph.save(tmp_path / "g.png")
    else:
        assert graph.save(tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_dot_source_is_valid_graphviz():
    graph = ember.viz.draw(mlp_program(ember), show_saved=True)
    out = subprocess.run(["dot", "-Tsvg"], input=graph.source, capture_output=True, text=True,
                         check=True)
    assert "MmBackward0" in out.stdout


def _decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB/RGBA, non-interlaced PNG as an array (enough for Chromium's screenshots)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), np.uint8)
    rows = raw.reshape(height, 1 + width * channels)
    out = np.zeros((height, width * channels), np.int32)
    for r in range(height):
        kind, line = rows[r, 0], rows[r, 1:].astype(np.int32)
        prev = out[r - 1] if r else np.zeros_like(line)
        if kind == 0:
            out[r] = line
        elif kind == 2:
            out[r] = (line + prev) % 256
        else:  # sub, average, paeth need the left neighbour: per pixel
            cur = np.zeros_like(line)
            for i in range(len(line)):
                left = cur[i - channels] if i >= channels else 0
                up, up_left = prev[i], (prev[i - channels] if i >= channels else 0)
                if kind == 1:
                    pred = left
                elif kind == 3:
                    pred = (left + up) // 2
                else:
                    p = left + up - up_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                cur[i] = (line[i] + pred) % 256
            out[r] = cur
    return out.reshape(height, width, channels)


def test_svg_renders_in_headless_chromium(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if IN_CI:
            pytest.fail("CI must have chromium (.ci/run installs it)")
        pytest.skip("chromium is not installed (CI installs it)")
    graph = ember.viz.draw(seed_program(ember), show_saved=True)
    svg = tmp_path / "graph.svg"
    graph.save(svg)
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--screenshot={shot}",
                    f"--window-size={int(graph.width) + 20},{int(graph.height) + 20}",
                    svg.as_uri()], capture_output=True, timeout=120, check=True)
    pixels = _decode_png(shot.read_bytes())[..., :3]
    dark = (pixels.sum(axis=2) < 200).mean()  # text and lines
    assert 0.002 < dark < 0.5, dark
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # boxes, text, arrows
