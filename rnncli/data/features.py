"""Real-valued inputs: one feature vector per timestep, for ``model.input: features``.

A features file is a TSV/CSV of examples (read by :func:`rnncli.data.readers.read_examples`)
whose text column holds the timesteps separated by spaces and each timestep's features
separated by commas, e.g. the adding problem's ``0.3100,0 0.7700,1 0.0400,0 …``: T = 3
steps of D = 2 features. Every step of every example must have the same D.

``pad_features`` right-pads (T_i, D) arrays into X (N, T, D) and a mask (N, T), as
:func:`rnncli.data.batching.pad_batch` does for token ids.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from rnncli.errors import DataError


def parse_features(text: str, where: str = "input") -> np.ndarray:
    """``"0.31,0 0.77,1"`` → array (T, D) = [[0.31, 0], [0.77, 1]]; DataError if malformed."""
    steps = text.split()
    if not steps:
        raise DataError(f"{where} has no timesteps.", hint="write the timesteps separated by spaces, e.g. '0.31,0 0.77,1'.")
    rows = []
    for t, step in enumerate(steps, start=1):
        try:
            row = [float(v) for v in step.split(",")]
        except ValueError:
            raise DataError(
                f"{where}: timestep {t} ({step[:40]!r}) is not a comma-separated list of numbers.",
                hint="a features file holds numbers per timestep ('0.31,0 0.77,1 …'); "
                "for text, use model.input: embedding or onehot.",
            ) from None
        if not all(math.isfinite(v) for v in row):
            raise DataError(f"{where}: timestep {t} ({step[:40]!r}) has a value that is not finite.",
                            hint="replace NaN and infinite values with numbers.")
        if rows and len(row) != len(rows[0]):
            raise DataError(f"{where}: timestep {t} has {len(row)} features but timestep 1 has {len(rows[0])}.",
                            hint="every timestep needs the same number of comma-separated features.")
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def parse_all(texts: Sequence[str], source: str = "data", expected_dim: int | None = None) -> list[np.ndarray]:
    """Parse every example; all must share one feature count D (``expected_dim`` when given)."""
    arrays = [parse_features(text, f"{source}: example {i + 1}") for i, text in enumerate(texts)]
    dims = {a.shape[1] for a in arrays}
    want = expected_dim if expected_dim is not None else (arrays[0].shape[1] if arrays else None)
    bad = next((i for i, a in enumerate(arrays) if a.shape[1] != want), None)
    if bad is not None:
        whose = "the model reads" if expected_dim is not None else "example 1 has"
        raise DataError(
            f"{source}: example {bad + 1} has {arrays[bad].shape[1]} features per timestep, but {whose} {want}"
            + (f" (the file has {sorted(dims)})" if len(dims) > 1 else "") + ".",
            hint="use data with the same number of features per timestep as the model was trained on."
            if expected_dim is not None else "every example needs the same number of features per timestep.",
        )
    return arrays


def pad_features(seqs: Sequence[np.ndarray], dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad (T_i, D) arrays into X (N, T, D) float64 (0 at padding) and mask (N, T) bool."""
    D = dim if dim is not None else (seqs[0].shape[1] if len(seqs) else 0)
    T = max((len(s) for s in seqs), default=0)
    x = np.zeros((len(seqs), T, D), dtype=np.float64)
    mask = np.zeros((len(seqs), T), dtype=bool)
    for n, s in enumerate(seqs):
        x[n, : len(s)] = s
        mask[n, : len(s)] = True
    return x, mask
