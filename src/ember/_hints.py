"""``ember hint:`` lines under autograd errors: what usually causes the error, what to do, and,
for an error about a graph node, the line of the user's code that created the node.

The first line of every message stays torch's, so searching for it finds the same answers.
The creation site costs one ``sys._getframe`` per recorded node: ``new_node`` stores the code
object and bytecode offset of the first frame outside ember (not the line number, whose
lookup is what would be slow); the line is worked out only when an error is reported.
"""

from __future__ import annotations

import sys

__all__ = ["creation_site", "record_site", "with_hint"]

_getframe = sys._getframe
_depth: dict = {}  # node class -> frames between new_node and the user's code, as last seen


def _inside_ember(frame) -> bool:
    return (frame.f_globals.get("__package__") or "").startswith("ember")


def record_site(cls) -> tuple:
    """(code, offset) of the user's code creating a node of ``cls`` (called by new_node)."""
    depth = _depth.get(cls, 2)
    try:
        frame = _getframe(depth)
        # The cached depth may come from a longer path through ember (a composite op): then
        # the frame just below must be ember's too, or the guess overshot the user's code.
        stale = depth > 2 and not _inside_ember(_getframe(depth - 1))
    except ValueError:  # shallower than usual (called at the top of a module)
        depth, frame, stale = 1, _getframe(1), True
    if stale or _inside_ember(frame):
        depth, frame = 2, _getframe(2)
        while frame.f_back is not None and _inside_ember(frame):
            frame = frame.f_back
            depth += 1
        _depth[cls] = depth
    return frame.f_code, frame.f_lasti


def creation_site(node) -> str | None:
    """``file:line (in function)`` where ``node``'s forward op was called, if recorded."""
    site = getattr(node, "_site", None)
    if site is None:
        return None
    code, offset = site
    line = code.co_firstlineno
    for start, end, number in code.co_lines():
        if start <= offset < end and number is not None:
            line = number
            break
    return f"{code.co_filename}:{line} (in {code.co_name})"


# First-line beginnings of torch's messages, and what to tell the user.
_HINTS = (
    ("Trying to backward through the graph a second time",
     "the graph's saved values were freed by the first backward(). Call backward once per "
     "forward pass (recompute the loss each iteration), or pass retain_graph=True to the first "
     "backward if you really need two."),
    ("one of the variables needed for gradient computation has been modified by an inplace",
     "a tensor that the backward pass needs was changed in place (x += ..., x[i] = ..., "
     "x.add_(...)) after it was used. Use the out-of-place form (x = x + ...) or .clone() it "
     "before changing it."),
    ("grad can be implicitly created only for scalar outputs",
     "backward() without arguments needs a single number. Reduce first (y.sum().backward()), "
     "or pass the gradient of the output: y.backward(gradient=torch.ones_like(y))."),
    ("a leaf Variable that requires grad is being used in an in-place operation",
     "in-place updates of parameters go inside `with torch.no_grad():` (as optimizers do), "
     "or use an out-of-place expression (w = w - lr * w.grad) if the result should be tracked."),
    ("a view of a leaf Variable that requires grad is being used in an in-place operation",
     "this changes part of a parameter in place; do it under `with torch.no_grad():`, or "
     "clone the leaf first (x = leaf.clone(); x[0] = ...)."),
    ("element 0 of tensors does not require grad and does not have a grad_fn",
     "nothing in this result depends on a tensor with requires_grad=True, or it was computed "
     "under torch.no_grad(). Create the inputs with requires_grad=True."),
    ("Function '",
     "a NaN appeared while computing gradients (e.g. sqrt or log at 0, 0/0, inf - inf). The "
     "forward call that created this node is shown above; clamp its input or add an epsilon."),
)


def with_hint(error: BaseException, node=None, subject: str = "") -> BaseException:
    """``error`` again (same type), with ember's hint lines added under torch's message."""
    text = str(error)
    if "\nember hint:" in text:
        return error
    first = text.split("\n", 1)[0]
    hint = next((h for prefix, h in _HINTS if first.startswith(prefix)), None)
    if hint is None:
        return error
    lines = [text, f"ember hint: {hint}"]
    site = creation_site(node) if node is not None else None
    if site is not None:
        lines.append(f"ember hint: {subject or node.name()} was created at {site}")
    try:
        new = type(error)("\n".join(lines))
    except TypeError:  # an exception type with another constructor: leave it as it was
        return error
    new.__cause__ = error.__cause__
    return new
