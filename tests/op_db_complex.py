"""Op database entries for the complex-number ops on real tensors (``ember/ops/complex_numbers.py``)
and the refusal of complex dtypes.

Imported by ``op_db`` after its own entries; builds entries with ``op_db``'s helpers.
"""

from __future__ import annotations

from op_db import ALL_DTYPES, FLOAT_DTYPES, NUMERIC_DTYPES, T, add_entry, fn, not_tensor, unary

PUBLIC_OPS: tuple[str, ...] = (
    "angle", "complex", "conj", "imag", "is_complex", "is_conj", "polar", "real", "resolve_conj",
    "resolve_neg", "view_as_complex", "view_as_real",
)


# Ops that would create a complex tensor: torch makes one, ember raises NotImplementedError
# naming the op (test_ops.test_unsupported_ops_say_so calls each with these arguments).
UNSUPPORTED = {
    "complex": lambda m: m.complex(m.ones(2), m.zeros(2)),
    "polar": lambda m: m.polar(m.ones(2), m.zeros(2)),
    "view_as_complex": lambda m: m.view_as_complex(m.ones(3, 2)),
}

add_entry("angle", fn("angle"), unary(dtypes=NUMERIC_DTYPES), errors=(not_tensor("angle"),),
          second_order=True)
add_entry("real", fn("real"), unary(dtypes=ALL_DTYPES), differentiable=True,
          errors=(not_tensor("real"),))
add_entry("conj", fn("conj"), unary(dtypes=ALL_DTYPES), errors=(not_tensor("conj"),))
add_entry("resolve_conj", fn("resolve_conj"), unary(dtypes=ALL_DTYPES),
          errors=(not_tensor("resolve_conj"),))
add_entry("resolve_neg", fn("resolve_neg"), unary(dtypes=ALL_DTYPES),
          errors=(not_tensor("resolve_neg"),))
add_entry("is_complex", lambda m, x: m.tensor(m.is_complex(x)), unary(dtypes=ALL_DTYPES),
          differentiable=False, errors=(not_tensor("is_complex"),))
add_entry("is_conj", lambda m, x: m.tensor(m.is_conj(x)), unary(dtypes=ALL_DTYPES),
          differentiable=False, errors=(not_tensor("is_conj"),))
add_entry("imag", lambda m, x: m.real(x), unary(dtypes=FLOAT_DTYPES), covers=("imag",),
          forward_only=True, errors=(
              ("imag of a real tensor", lambda m: m.imag(T(m, [1.0]))),
              ("imag property of a real tensor", lambda m: T(m, [1.0]).imag),
          ))
add_entry("view_as_real", lambda m, x: m.real(x), unary(dtypes=FLOAT_DTYPES),
          covers=("view_as_real",), forward_only=True, errors=(
              ("view_as_real of a real tensor", lambda m: m.view_as_real(T(m, [1.0]))),
          ))
