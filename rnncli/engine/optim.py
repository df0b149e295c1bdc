"""Optimisers, gradient clipping and learning-rate schedules over a dict of parameters and a dict of gradients.

Every rule follows ``torch.optim`` exactly (default arguments, no ``maximize``, ``foreach`` or AMSGrad), so a run
can be checked against PyTorch step by step. Notation: θ parameter, g its gradient, η the learning rate read from
``opt.lr`` at every step, λ ``weight_decay``, t the 1-based step count; all operations are elementwise.

Weight decay (every rule)   g ← g + λ θ             (L2 added to the gradient; for Adam this is torch.optim.Adam,
                                                     not AdamW's decoupled decay)
SGD                         θ ← θ - η g
Momentum (SGD, μ, τ = 0)    b ← μ b + g             (b₀ = 0, so b₁ = g as in PyTorch's "b ← g at t = 1")
                            θ ← θ - η b             or, with nesterov, θ ← θ - η (g + μ b)
Adam (β1 .9, β2 .999, ε 1e-8)
                            m ← β1 m + (1-β1) g;    v ← β2 v + (1-β2) g²
                            θ ← θ - η m̂ / (√v̂ + ε),   m̂ = m / (1-β1^t),  v̂ = v / (1-β2^t)   (Kingma & Ba 2015)
LazyAdam                    Adam, but an embedding table updates only the rows of the batch's tokens (see LazyAdam)
RMSprop (α .99, ε 1e-8)     v ← α v + (1-α) g²;     θ ← θ - η g / (√v + ε)     (no momentum, not centred)
Adagrad (ε 1e-10)           s ← s + g²;             θ ← θ - η g / (√s + ε)     (s₀ = 0, no lr decay)

Clipping by norm            g ← g · c / ‖g‖₂ when ‖g‖₂ > c, with ‖g‖₂ the global norm over every tensor
Clipping by value           g ← min(max(g, -c), c)

Schedules (1-based epoch e of E, evaluated at the start of each epoch)
  none     η_e = η
  step     η_e = η γ^⌊(e-1) / step_size⌋               (torch StepLR, stepped once per epoch)
  cosine   η_e = η (1 + cos(π (e-1) / E)) / 2          (torch CosineAnnealingLR, T_max = E, eta_min = 0)

Weight average (train.ema_decay = d; torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn(d), Keras's
use_ema): θ̄ ← θ after the first step, then after every step θ̄ ← θ̄ + (1-d)(θ - θ̄) = d θ̄ + (1-d) θ, an
exponential moving average over about 1/(1-d) steps (``WeightAverage``). It never feeds back into training.

Parameters are updated in place and keep their dtype: state buffers share it and scalars stay Python floats, so
float32 never becomes float64 (NumPy 2 would upcast on a NumPy float64 scalar). Gradients are never modified by
``step``. Optimiser state is a flat dict of arrays (``state_dict``: ``"t"`` plus ``"<slot>.<param name>"``) so a
checkpoint can store it in an ``.npz`` without pickling; the learning rate is not state, because the schedule
recomputes it every epoch.
"""

from __future__ import annotations

import math

import numpy as np

from rnncli.engine.parallel import blockwise

Arrays = dict[str, np.ndarray]


def global_norm(grads: Arrays) -> float:
    """‖g‖₂ over every tensor, as if all were concatenated into one vector."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_grad_norm(grads: Arrays, max_norm: float) -> float:
    """Scale every gradient in place so the global norm is at most ``max_norm``; returns the norm before."""
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)  # the tiny term only guards 0/0; it never matters when norm > max_norm
        for g in grads.values():
            g *= scale
    return norm


def clip_grad_value(grads: Arrays, value: float) -> None:
    """Clamp every gradient entry in place to [-value, value]."""
    for g in grads.values():
        np.clip(g, -value, value, out=g)


def load_into(buffers: Arrays, saved: Arrays, what: str) -> None:
    """Copy each saved array into the existing buffer of the same name, bit for bit; a shape that differs is a
    ValueError naming ``what`` and the key."""
    for k, b in buffers.items():
        value = np.asarray(saved[k])
        if value.shape != b.shape:
            raise ValueError(f"{what}{k} has shape {value.shape}, expected {b.shape}")
        b[...] = value


class Optimizer:
    """Shared machinery: weight decay, the step count and state (de)serialisation.

    A subclass names its per-parameter buffers in ``slots`` (each starts at zero, like PyTorch's) and implements
    ``_update(p, g, *bufs)``, which changes the parameter ``p`` and its buffers (in ``slots`` order) in place given
    the gradient. Every rule is elementwise, so ``step`` applies it block by block, on several cores, for large
    parameters (:func:`rnncli.engine.parallel.blockwise`); the result is the same as one call on whole arrays.
    """

    slots: tuple[str, ...] = ()

    def __init__(self, params: Arrays, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = lr  # mutable: a schedule may change it between steps
        self.weight_decay = weight_decay
        self.t = 0
        self.buffers = {s: {k: np.zeros_like(p) for k, p in params.items()} for s in self.slots}

    def step(self, params: Arrays, grads: Arrays) -> None:
        """Apply one update to every parameter, in place."""
        self.t += 1
        for k, p in params.items():
            self._step_one(k, p, np.ascontiguousarray(grads[k]), [self.buffers[s][k] for s in self.slots])

    def _step_one(self, name: str, p: np.ndarray, g: np.ndarray, bufs: list[np.ndarray]) -> None:
        blockwise(self._decay_and_update, p, g, *bufs)

    def _decay_and_update(self, p: np.ndarray, g: np.ndarray, *bufs: np.ndarray) -> None:
        wd = float(self.weight_decay)
        if wd != 0.0:
            g = g + wd * p  # a new array: the caller's gradient stays untouched, as in PyTorch
        self._update(p, g, *bufs)

    def _update(self, p: np.ndarray, g: np.ndarray, *bufs: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> Arrays:
        """Copies (not views) so later steps cannot change a state that was saved but not yet written."""
        state = {"t": np.array(self.t, dtype=np.int64)}
        for s, bufs in self.buffers.items():
            state.update({f"{s}.{k}": b.copy() for k, b in bufs.items()})
        return state

    def load_state_dict(self, state: Arrays) -> None:
        """Restore a ``state_dict`` bit for bit into this optimiser's existing buffers."""
        self.t = int(state["t"])
        for s, bufs in self.buffers.items():
            load_into(bufs, {k: state[f"{s}.{k}"] for k in bufs}, f"optimizer state {s}.")


class SGD(Optimizer):
    def _update(self, p, g):
        p -= float(self.lr) * g


class Momentum(Optimizer):
    """PyTorch's SGD with momentum μ and dampening 0, optionally in Nesterov's form."""

    slots = ("b",)

    def __init__(self, params: Arrays, lr: float, momentum: float = 0.9, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, p, g, b):
        mu = float(self.momentum)
        b *= mu
        b += g
        p -= float(self.lr) * (g + mu * b if self.nesterov else b)


class Adam(Optimizer):
    slots = ("m", "v")

    def __init__(self, params: Arrays, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        (self.beta1, self.beta2), self.eps = betas, eps

    def _update(self, p, g, m, v):
        b1, b2 = float(self.beta1), float(self.beta2)
        tmp = np.empty_like(p)  # one block's worth of scratch (see Optimizer): every pass below is in place
        m *= b1
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        # η/(1-β1^t) · m / (√v / c + ε) with c = √(1-β2^t), PyTorch's arrangement, multiplied through
        # by c: η c/(1-β1^t) · m / (√v + ε c). The same number up to rounding, with one pass fewer.
        c = math.sqrt(1.0 - b2**self.t)
        np.sqrt(v, out=tmp)
        tmp += float(self.eps) * c
        np.divide(m, tmp, out=tmp)
        tmp *= float(self.lr) * c / (1.0 - b1**self.t)
        p -= tmp


EMBEDDING_SUFFIX = "embedding.weight"  # the parameters LazyAdam treats as tables of rows
GATHER = 1 << 15  # LazyAdam: the most elements of a table's rows gathered into copies at a time


class LazyAdam(Adam):
    """Adam, except that an embedding table changes only in the rows of the tokens in the batch.

    A 2-D parameter named ``*embedding.weight`` is updated as PyTorch's SparseAdam updates an
    ``nn.Embedding(sparse=True)`` (TensorFlow Addons' LazyAdam is the same rule): the rows R with a
    non-zero gradient take

        m_R ← β1 m_R + (1-β1) g_R;   v_R ← β2 v_R + (1-β2) g_R²
        θ_R ← θ_R - η √(1-β2^t)/(1-β1^t) · m_R / (√v_R + ε)          (t: the global step count)

    and every other row keeps its θ, m and v, where dense Adam would decay m and v and move θ on the
    momentum of earlier batches. Weight decay, if set, is added to the gradient of the rows in R
    only (SparseAdam has none). It is not the same optimiser as Adam: rare words keep their moments
    between occurrences. What it buys is speed: a step costs O(|R| D) for the table instead of
    O(V D). Every other parameter takes the dense Adam step, bit for bit.
    """

    def _step_one(self, name, p, g, bufs):
        if not (name.endswith(EMBEDDING_SUFFIX) and p.ndim == 2):
            super()._step_one(name, p, g, bufs)
            return
        (m, v), present = bufs, np.flatnonzero(g.any(axis=1))
        step = max(1, GATHER // p.shape[1])  # rows at a time: the gathered copies stay small and in cache
        for s in range(0, present.size, step):
            rows = present[s : s + step]
            p_r, g_r, m_r, v_r = p[rows], g[rows], m[rows], v[rows]  # copies, updated in place
            self._rows_update(p_r, g_r, m_r, v_r)
            p[rows], m[rows], v[rows] = p_r, m_r, v_r

    def _rows_update(self, p, g, m, v):
        """SparseAdam's arithmetic, operation for operation, on gathered rows."""
        b1, b2, wd = float(self.beta1), float(self.beta2), float(self.weight_decay)
        if wd != 0.0:
            g = g + wd * p
        tmp = np.subtract(g, m)
        tmp *= 1.0 - b1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1.0 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += float(self.eps)
        np.divide(m, tmp, out=tmp)
        tmp *= float(self.lr) * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        p -= tmp


class RMSprop(Optimizer):
    slots = ("v",)

    def __init__(self, params: Arrays, lr: float, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps = alpha, eps

    def _update(self, p, g, v):
        a = float(self.alpha)
        v *= a
        v += (1.0 - a) * (g * g)
        p -= float(self.lr) * (g / (np.sqrt(v) + float(self.eps)))


class Adagrad(Optimizer):
    slots = ("s",)

    def __init__(self, params: Arrays, lr: float, eps: float = 1e-10, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        self.eps = eps

    def _update(self, p, g, s):
        s += g * g
        p -= float(self.lr) * (g / (np.sqrt(s) + float(self.eps)))


class WeightAverage:
    """The exponential moving average θ̄ of the parameters (equation in the module docstring).

    Training steps on θ; evaluation and the saved weights use θ̄, which averages out the noise of
    the last steps (Polyak & Juditsky 1992; an EMA as in torch's AveragedModel and Keras's use_ema).
    ``n`` counts the updates: the first copies θ, as AveragedModel does.
    """

    def __init__(self, params: Arrays, decay: float) -> None:
        self.decay = decay
        self.n = 0
        self.weights = {k: p.copy() for k, p in params.items()}

    def update(self, params: Arrays) -> None:
        """Fold the parameters after a step into the average, in place."""
        self.n += 1
        for k, p in params.items():
            blockwise(self._copy if self.n == 1 else self._lerp, self.weights[k], p)

    @staticmethod
    def _copy(avg: np.ndarray, p: np.ndarray) -> None:
        avg[...] = p

    def _lerp(self, avg: np.ndarray, p: np.ndarray) -> None:
        tmp = np.subtract(p, avg)
        tmp *= 1.0 - float(self.decay)
        avg += tmp

    def state_dict(self) -> Arrays:
        """``"n"`` and a copy of each average, by parameter name."""
        return {"n": np.array(self.n, dtype=np.int64), **{k: a.copy() for k, a in self.weights.items()}}

    def load_state_dict(self, state: Arrays) -> None:
        self.n = int(state["n"])
        load_into(self.weights, {k: state[k] for k in self.weights}, "weight average ")


OPTIMIZERS = ("sgd", "momentum", "adam", "lazy_adam", "rmsprop", "adagrad")
SCHEDULES = ("none", "step", "cosine")


def make_optimizer(name: str, params: Arrays, lr: float, momentum: float = 0.9, nesterov: bool = False,
                   weight_decay: float = 0.0) -> Optimizer:
    """The optimiser called ``name`` with PyTorch's defaults; ``momentum`` and ``nesterov`` only matter for
    "momentum"."""
    if name == "sgd":
        return SGD(params, lr, weight_decay)
    if name == "momentum":
        return Momentum(params, lr, momentum, nesterov, weight_decay)
    if name == "adam":
        return Adam(params, lr, weight_decay=weight_decay)
    if name == "lazy_adam":
        return LazyAdam(params, lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return RMSprop(params, lr, weight_decay=weight_decay)
    if name == "adagrad":
        return Adagrad(params, lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")


def lr_at(schedule: str, base_lr: float, epoch: int, epochs: int, step_size: int, gamma: float) -> float:
    """The learning rate for 1-based ``epoch`` of ``epochs`` (equations in the module docstring)."""
    if schedule == "none":
        return float(base_lr)
    if schedule == "step":
        return float(base_lr * gamma ** ((epoch - 1) // step_size))
    if schedule == "cosine":
        return float(base_lr * (1.0 + math.cos(math.pi * (epoch - 1) / epochs)) / 2.0)
    raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
