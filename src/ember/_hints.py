"""``ember hint:`` lines under autograd errors: what usually causes the error, what to do, and,
for an error about a graph node, the line of the user's code that created the node.

The first line of every message stays torch's, so searching for it finds the same answers.

The creation site is recorded by ``new_node`` for every node, so it has to be cheap: the
overhead benchmark's tiny ops cost ~40k instructions each, and benchmarks/site_overhead.py
measures the share recording takes. ``new_node`` looks at the frame two levels up, which is
the user's code when the user called an op that creates its node itself (``x * y``,
``x.sum()``): ``sys._getframe(2)`` returns it without building frame objects for the frames
in between; it is the user's if its code object is the one last found to be (the loop
that keeps calling ops: one identity check), or else if its file name is in ``USER_FILES``.
An op whose node is made one or two calls further in (``F.relu`` calls ``relu``, ``linear``
calls ``_linear_2d``) is caught by walking out through frames of files known to be ember's
until that same code object, still inside ``new_node``.
It stores the code object and the bytecode offset in two slots of the node: a tuple per
node would cost more than all the rest (allocated, tracked by the garbage collector,
freed), and the line number's lookup is what would be slow, so that is worked out only
when an error is reported.

Anything else (an op reached through a helper, a composite op, a file seen for the first
time) goes to ``user_site``, which walks out frame by frame, looking at every frame: a
cached depth could not tell an ember-only path from one passing through user code that
ember calls back (a Module's ``forward`` inside ``nn.Sequential``, a hook) at the same
depth.
"""

from __future__ import annotations

__all__ = [
    "EMBER_FILES", "LAST_USER_CODE", "USER_FILES", "creation_site", "site_location", "user_site",
    "with_hint",
]

USER_FILES: set = set()  # co_filename of code seen to be outside ember (the user's)
LAST_USER_CODE: list = [None]  # the user's code object found last (by new_node or user_site)
EMBER_FILES: set = set()  # ... and of ember's own modules


def _is_ember(frame) -> bool:
    name = frame.f_globals.get("__name__") or ""
    return name == "ember" or name.startswith("ember.")


def user_site(frame) -> tuple:
    """(code, bytecode offset) of the first frame outside ember from ``frame`` outwards."""
    while True:
        code = frame.f_code
        filename = code.co_filename
        if filename in USER_FILES:
            break
        if filename not in EMBER_FILES:
            if not _is_ember(frame):
                USER_FILES.add(filename)
                break
            EMBER_FILES.add(filename)
        back = frame.f_back
        if back is None:  # all ember: no user's line (ember called at the bottom of a thread)
            return None, 0
        frame = back
    LAST_USER_CODE[0] = code
    return code, frame.f_lasti


def site_location(node) -> tuple[str, int, str] | None:
    """(file, line, function) where ``node``'s forward op was called, if recorded."""
    code = getattr(node, "_site", None)
    if code is None:
        return None
    offset = node._site_offset
    line = code.co_firstlineno
    for start, end, number in code.co_lines():
        if start <= offset < end and number is not None:
            line = number
            break
    return code.co_filename, line, code.co_name


def creation_site(node) -> str | None:
    """``file:line (in function)`` where ``node``'s forward op was called, if recorded."""
    location = site_location(node)
    if location is None:
        return None
    filename, line, function = location
    return f"{filename}:{line} (in {function})"


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
