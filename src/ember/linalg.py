"""``ember.linalg``: torch.linalg's functions (norms, inverses, factorizations, solvers).

The forward functions and their backward nodes live in ``ember.ops.linalg``; this module
gives them torch.linalg's names.
"""

from __future__ import annotations

from ember.ops import linalg as _L
from ember.ops import reduction as _R

LinAlgError = _L._LinAlgError

cholesky = _L.linalg_cholesky
cross = _L.linalg_cross
det = _L.linalg_det
eigh = _L.linalg_eigh
eigvalsh = _L.linalg_eigvalsh
inv = _L.linalg_inv
lstsq = _L.linalg_lstsq
matmul = _L.matmul
matrix_norm = _L.linalg_matrix_norm
matrix_power = _L.linalg_matrix_power
matrix_rank = _L.linalg_matrix_rank
multi_dot = _L.linalg_multi_dot
norm = _L.linalg_norm
pinv = _L.linalg_pinv
qr = _L.linalg_qr
slogdet = _L.linalg_slogdet
solve = _L.linalg_solve
solve_triangular = _L.linalg_solve_triangular
svd = _L.linalg_svd
svdvals = _L.linalg_svdvals
vecdot = _L.linalg_vecdot
vector_norm = _R.vector_norm

__all__ = [
    "LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq", "matmul",
    "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet",
    "solve", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm",
]
