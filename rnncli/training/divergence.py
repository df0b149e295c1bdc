"""When training has diverged: one rule, the same on every CPU.

A training step has diverged when any of these holds:

1. NumPy raises a floating-point error anywhere in the step (forward, loss, backward, clipping or
   the optimiser update): an overflow, an invalid operation (inf - inf, 0 · inf) or a division by
   zero. :func:`trap` turns them into ``FloatingPointError`` for the duration of the step, in the
   optimiser's worker threads too;
2. the loss or the gradient norm is not finite (a NaN or inf that arrived without an error);
3. the loss has been above ``LOSS_BOUND`` × max(1, ℓ₁) for ``HIGH_STEPS`` steps in a row, where ℓ₁
   is the loss of the run's first step (taken with the initial weights; the checkpoint keeps it and the
   count, so a resumed run decides as the uninterrupted one would);
4. a weight is not finite when it is about to be saved.

Rule 3 catches what the others cannot: a loss that grows a millionfold while every float stays
finite (tanh saturates, the gradient vanishes and the weights drift to 10^30 without ever reaching
inf). Whether such a run ever produces an inf or NaN depends on the CPU's SIMD kernels; the bound
does not. The floor of 1 keeps a tiny first loss (a regression that happens to start well) from
making the bound tight. One batch above the bound is a spike, not a runaway: the IRNN of the adding
experiment meets a batch whose loss is 10^7 times its first and is back below 1 on the next step.
"""

from __future__ import annotations

import math

import numpy as np

LOSS_BOUND = 1e4
HIGH_STEPS = 10


def trap():
    """Floating-point errors raise ``FloatingPointError`` (underflow stays silent: it is harmless)."""
    return np.errstate(over="raise", invalid="raise", divide="raise", under="ignore")


def nonfinite(arrays: dict[str, np.ndarray]) -> str | None:
    """The name of the first array holding a NaN or an infinity, or None."""
    return next((k for k, a in arrays.items() if not np.all(np.isfinite(a))), None)


def loss_bound(first_loss: float) -> float:
    """The largest loss a healthy run may reach, given its first step's loss."""
    return LOSS_BOUND * max(1.0, first_loss)


def above_bound(loss: float, first_loss: float | None) -> bool:
    """Whether the step's loss is above the bound (never on the run's first step, which sets it)."""
    return first_loss is not None and loss > loss_bound(first_loss)


def check_step(loss: float, grad_norm: float, grads: dict[str, np.ndarray], first_loss: float | None,
               high_steps: int = 0) -> str | None:
    """Why the step has diverged (rules 2 and 3), or None. ``first_loss`` is None on the run's first step;
    ``high_steps`` counts the steps in a row before this one whose loss was above the bound."""
    if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        bad = nonfinite(grads)
        return f"the loss is {loss} and " + (f"the gradient of {bad} is not finite" if bad else "the gradients are finite")
    if above_bound(loss, first_loss) and high_steps + 1 >= HIGH_STEPS:
        return (f"the loss is {loss:.4g}, above the bound of {loss_bound(first_loss):.4g} "
                f"({LOSS_BOUND:g} × max(1, the first step's loss {first_loss:.4g})) for {HIGH_STEPS} steps in a row")
    return None
