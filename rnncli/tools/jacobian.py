"""``rnn jacobian``: why gradients vanish or explode, from the per-step state Jacobians.

For one layer and direction of a model's stack, on real input sequences (float64, no dropout):

    ‖J_t‖₂        the spectral norm of the state Jacobian J_t = ∂s_t/∂s_{t-1} at every step t
                  (s = h, or (h, c) for the LSTM; :mod:`rnncli.engine.jacobian`)
    σ_i(τ)        the singular values of the product J_τ ⋯ J_1 over growing spans τ, i.e. by how much
                  a gradient can grow or shrink on its way back over τ steps (exact, top k; formed for
                  every sequence while the state has at most 64 entries, for fewer beyond)
    λ_i           the Lyapunov exponents, λ_1 ≥ λ_2 ≥ …: (1/L) log σ_i(L) over a whole sequence of
                  length L, in nats per step; mean and standard deviation over the examples

and, from ``rnn grad-norms`` on the same model and batches, the slope of log ‖∂L/∂h_t‖ per step back
(the log of its fitted rate). The gradient at h_{t-τ} is Jᵀ_{t-τ+1} ⋯ Jᵀ_t ∂L/∂h_t, so it decays (or
grows) like e^{λ_1 τ}: the spectrum predicts the measured slope. λ_1 < 0 means vanishing gradients,
λ_1 > 0 exploding ones; the gap λ_1 − λ_2 says how fast everything but one direction is forgotten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnncli.engine import jacobian as jac
from rnncli.errors import DataError, UsageError
from rnncli.models import ModelSpec
from rnncli.models.sequence import forward
from rnncli.tools import diagnostics
from rnncli.tools.diagnostics import DIRECTIONS

DIRECTION_FLAGS = {"fwd": 0, "bwd": 1}
SPANS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


@dataclass
class JacobianReport:
    """The result of :func:`measure`."""

    source: str
    data: str
    task: str
    cell: str
    layer: int
    direction: str  # "forward" | "reverse"
    state: str  # "h" or "(h, c)"
    state_size: int  # S
    examples: int
    steps: int  # T: the longest sequence
    lyapunov: list[float]  # λ_1 ≥ … ≥ λ_k, mean over examples, nats per step
    lyapunov_std: list[float]  # their standard deviation over the examples
    lyapunov_examples: list[list[float]]  # per example
    jacobian_norms: list[float]  # mean ‖J_t‖₂ over the examples with a real token at position t = 1 … T
    spans: list[int]  # τ
    log_singular_values: list[list[float]]  # per span: mean log σ_i(J_τ ⋯ J_1) over examples at least τ long
    product_examples: int  # how many examples the products were formed for (all, unless the state is large)
    grad_norm_rate: float | None = None  # rnn grad-norms' fitted rate per step back for this layer and direction

    @property
    def name(self) -> str:
        return f"l{self.layer} {self.direction}"

    @property
    def grad_norm_slope(self) -> float | None:
        """The measured slope of log ‖∂L/∂h_t‖ per step back (nats), to compare with λ_1."""
        r = self.grad_norm_rate
        return math.log(r) if r is not None and math.isfinite(r) and r > 0 else None

    @property
    def verdict(self) -> str:
        """What λ_1 says about gradients over the longest sequence: below e^-4.6 (1e-2) vanishing, above
        e^4.6 (1e2) exploding: the thresholds of ``rnn grad-norms``."""
        reach = self.lyapunov[0] * max(self.steps - 1, 1) if self.lyapunov else 0.0
        return diagnostics.verdict_of(math.exp(min(reach, 700.0)))

    def to_dict(self) -> dict:
        return {
            "source": self.source, "data": self.data, "task": self.task, "cell": self.cell,
            "layer": self.layer, "direction": self.direction, "state": self.state, "state_size": self.state_size,
            "examples": self.examples, "steps": self.steps,
            "lyapunov": self.lyapunov, "lyapunov_std": self.lyapunov_std, "lyapunov_examples": self.lyapunov_examples,
            "jacobian_norms": self.jacobian_norms,
            "spans": self.spans, "log_singular_values": self.log_singular_values,
            "product_examples": self.product_examples,
            "grad_norm_rate": self.grad_norm_rate, "grad_norm_slope": self.grad_norm_slope,
            "predicted_rate": math.exp(self.lyapunov[0]) if self.lyapunov else None,
            "verdict": self.verdict,
        }

    def csv_rows(self) -> list[dict]:
        """One row per position t: ‖J_t‖₂."""
        return [{"t": i + 1, "layer": self.layer, "direction": self.direction, "jacobian_norm": v}
                for i, v in enumerate(self.jacobian_norms)]


# The exact singular values of the products are computed for at most this many sequences when the state
# is larger than 64: forming J_τ ⋯ J_1 costs S³ per step and sequence.
PRODUCT_BUDGET = 32 * 64**3


def measure(params: dict, spec: ModelSpec, batches: list, layer: int = 0, direction: int = 0, top: int = 4,
            source: str = "", data: str = "", seed: int = 0) -> JacobianReport:
    """Jacobians, their products' singular values and the Lyapunov spectrum of one layer and direction over
    ``batches`` (:class:`rnncli.tasks.Batch`), in float64, and the gradient decay ``rnn grad-norms`` measures."""
    stack = spec.stack
    if not 0 <= layer < stack.num_layers:
        raise UsageError(f"--layer {layer} does not exist: the model has {stack.num_layers} layer(s), 0 … "
                         f"{stack.num_layers - 1}.", hint="pass --layer 0 for the first one.")
    if direction >= stack.directions:
        raise UsageError("--direction bwd needs a bidirectional model; this one reads forward only.",
                         hint="drop --direction, or measure a model with model.bidirectional: true.")
    if not batches:
        raise DataError(f"{data or 'the data'} gives no batch to measure.", hint="pass a file with at least one example.")
    p64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    cell = stack.cell_type
    S = cell.state_size * stack.hidden_size
    W_hh = p64[f"rnn.l{layer}{'_reverse' if direction else ''}.W_hh"]
    T = max(b.mask.shape[1] for b in batches)
    norm_sum, norm_count = np.zeros(T), np.zeros(T)
    exponents, span_logs, product_rows = [], {}, 0
    state = None
    for batch in batches:
        with np.errstate(over="ignore", invalid="ignore"):
            _, cache = forward(p64, spec, batch.ids, batch.mask, state if batch.carry else None)
        state = cache.finals
        dcache = cache.stack.directions[(layer, direction)]
        mask = dcache.mask[:, :, 0] > 0  # processing order
        N, Tb = mask.shape
        positions = np.arange(Tb) if direction == 0 else np.arange(Tb)[::-1]
        rows = min(N, max(1, PRODUCT_BUDGET // S**3) - product_rows) if S > 64 else N
        products = jac.ProductSpectrum(max(rows, 0), S, SPANS, top)
        product_rows += max(rows, 0)
        v = None

        def jacobians():
            nonlocal v
            for j, J in enumerate(jac.step_jacobians(cell, dcache.steps, dcache.mask, W_hh)):
                norms, v = jac.spectral_norm(J, v)
                real = mask[:, j]
                norm_sum[positions[j]] += norms[real].sum()
                norm_count[positions[j]] += real.sum()
                if rows > 0:
                    products.update(J[:rows], real[:rows])
                yield J

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            exponents.append(jac.lyapunov(jacobians(), mask.sum(axis=1), top, np.random.default_rng(seed)))
        for tau, logs in products.found.items():
            span_logs.setdefault(tau, []).extend(logs)
    lam = np.concatenate(exponents)  # −inf where a step's Jacobian was singular (a ReLU unit all off)
    grads = diagnostics.grad_norms(params, spec, batches, source, data)
    measured = next(x for x in grads.layers if x.layer == layer and x.direction == DIRECTIONS[direction])
    seen = norm_count > 0
    spans = sorted(span_logs)
    return JacobianReport(
        source, data, spec.task, diagnostics.cell_name(spec), layer, DIRECTIONS[direction],
        "(h, c)" if cell.state_size == 2 else "h", S, len(lam), int(seen.sum()),
        [float(x) for x in lam.mean(axis=0)], [float(x) for x in _std(lam)], lam.tolist(),
        [float(x) for x in norm_sum[seen] / norm_count[seen]],
        spans, [[float(x) for x in np.mean(span_logs[tau], axis=0)] for tau in spans], product_rows,
        measured.rate if math.isfinite(measured.rate) else None,
    )


def _std(values: np.ndarray) -> np.ndarray:
    """The standard deviation over the examples (axis 0); NaN where an exponent is −inf."""
    with np.errstate(invalid="ignore"):
        return values.std(axis=0)


def measure_probe(probe: diagnostics.Probe, layer: int = 0, direction: int = 0, top: int = 4) -> JacobianReport:
    """:func:`measure` of a model and its batches (:func:`rnncli.tools.diagnostics.probe_config` or ``probe_run``)."""
    return measure(probe.params, probe.spec, probe.batches, layer, direction, top, probe.source, probe.data)
