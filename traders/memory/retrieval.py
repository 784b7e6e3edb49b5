"""Exact cosine top-K over one trader's situation vectors (numpy, no index).

Ties are broken by the lower row index (the older memory), so the answer is deterministic and equal to a
brute-force sort by (-similarity, index). A zero vector has similarity 0 to everything.
"""
from __future__ import annotations

import numpy as np

_SMALL = 2048  # up to this many rows, sort them all


def normalized(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def top_k(unit_rows: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, similarities) of the k rows of `unit_rows` (already normalized) most similar to `query`,
    best first."""
    n = unit_rows.shape[0]
    k = min(int(k), n)
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    q = np.asarray(query, dtype=np.float32)
    qn = float(np.linalg.norm(q))
    sims = unit_rows @ (q / qn) if qn > 0 else np.zeros(n, dtype=np.float32)
    if n <= _SMALL:  # one sort of everything costs less than partitioning first
        return _best(sims, np.arange(n), k)
    if k < n:
        cut = np.partition(sims, n - k)[n - k]  # k-th largest value
        cand = np.flatnonzero(sims >= cut)      # all rows tied at the cut are candidates
    else:
        cand = np.arange(n)
    return _best(sims, cand, k)


def _best(sims: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k of rows `cand` (ascending) with the largest similarity, ties to the lower index."""
    order = np.lexsort((cand, -sims[cand]))[:k]
    idx = cand[order]
    return idx.astype(np.int64), sims[idx]
