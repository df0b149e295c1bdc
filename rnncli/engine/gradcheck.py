"""Centred finite differences, the oracle for every analytic gradient.

    ∂L/∂θ_i ≈ (L(θ + h e_i) - L(θ - h e_i)) / 2h          (error O(h²); use float64)

The relative error between an analytic gradient tensor a and a numeric one n is
    max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, floor)
i.e. the worst entry's error measured against the tensor's scale: per-entry ratios would
divide the ~1e-10 rounding noise of entries that are nearly 0 by nearly 0.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-6, max_entries: int | None = None,
                 rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Finite-difference gradient of the scalar ``f()`` with respect to array ``x`` (perturbed in place).

    Checks every entry, or a random sample of ``max_entries`` of them. Returns
    (flat indices checked, numeric gradient at those indices).
    """
    flat = x.reshape(-1)
    idx = np.arange(flat.size)
    if max_entries is not None and flat.size > max_entries:
        idx = np.sort((rng or np.random.default_rng(0)).choice(flat.size, max_entries, replace=False))
    out = np.empty(idx.size, dtype=np.float64)
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        out[j] = (f_plus - f_minus) / (2 * h)
    return idx, out


def rel_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-8) -> float:
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if a.size == 0:
        return 0.0
    scale = max(float(np.abs(a).max()), float(np.abs(n).max()), floor)
    return float(np.abs(a - n).max() / scale)
