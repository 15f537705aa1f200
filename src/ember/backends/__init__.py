"""``ember.backends``: the switches programs set for torch's accelerated backends.

``torch.backends.cudnn.deterministic = True`` and ``torch.backends.mps.is_available()`` appear
in many training scripts; ember has neither backend, so the flags are kept (and ignored) and
the availability checks say no.
"""

from ember.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
