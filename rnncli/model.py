"""The sequence classifier: input encoding → recurrent stack → head (many-to-one).

    ids (N, T) ──embedding E (V, D)──► X (N, T, D)        or one-hot: ids go straight to layer 0
    X ──recurrent stack──► finals of the top layer
    s = [h_fwd at the last real token, h_bwd at the first token]     (N, F), F = H·dirs
    z = s W^T + b                                                    (N, O)
    two classes: O = 1, p(class 1) = σ(z)           more classes: O = C, p = softmax(z)

Parameter names: ``embedding.weight`` (absent for one-hot), the stack's ``rnn.l{k}…``
(see ``engine/recurrent.py``), ``head.W`` (O, F) and ``head.b`` (O,).
Initialisation follows PyTorch: recurrent weights and biases and the head
~ U(±1/√fan), embedding ~ N(0, 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from rnncli.engine import layers, losses
from rnncli.engine.functional import sigmoid, softmax
from rnncli.engine.recurrent import ONEHOT_OFFSET, StackCache, StackSpec, stack_backward, stack_forward


@dataclass(frozen=True)
class ModelSpec:
    """Everything that fixes the model's parameter shapes and function."""

    vocab_size: int  # V, including <pad> and <unk>
    num_classes: int  # C ≥ 2
    cell: str = "rnn"
    activation: str = "tanh"
    input: str = "embedding"  # or "onehot"
    embedding_dim: int = 16
    hidden_size: int = 16
    num_layers: int = 1
    bidirectional: bool = False

    @property
    def num_outputs(self) -> int:
        """One sigmoid logit for two classes, else one logit per class."""
        return 1 if self.num_classes == 2 else self.num_classes

    @property
    def stack(self) -> StackSpec:
        onehot = self.input == "onehot"
        return StackSpec(
            cell=self.cell,
            input_size=self.vocab_size - ONEHOT_OFFSET if onehot else self.embedding_dim,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            activation=self.activation,
            onehot=onehot,
        )

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        if self.input == "embedding":
            shapes["embedding.weight"] = (self.vocab_size, self.embedding_dim)
        shapes.update(self.stack.param_shapes())
        shapes["head.W"] = (self.num_outputs, self.stack.output_size)
        shapes["head.b"] = (self.num_outputs,)
        return shapes

    def to_dict(self) -> dict:
        return asdict(self)


def init_params(spec: ModelSpec, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    params = {}
    for name, shape in spec.param_shapes().items():
        if name == "embedding.weight":
            p = rng.standard_normal(shape)
        else:
            fan = spec.hidden_size if name.startswith("rnn.") else spec.stack.output_size
            bound = 1.0 / np.sqrt(fan)
            p = rng.uniform(-bound, bound, size=shape)
        params[name] = p.astype(dtype)
    return params


class ForwardCache(NamedTuple):
    ids: np.ndarray
    stack: StackCache
    summary: np.ndarray  # (N, F)


def forward(params: dict, spec: ModelSpec, ids: np.ndarray, mask: np.ndarray):
    """ids (N, T) int, mask (N, T) → logits (N, O) and a cache for :func:`backward`."""
    stack_spec = spec.stack
    x = ids if spec.input == "onehot" else layers.embedding_forward(params["embedding.weight"], ids)
    _, finals, stack_cache = stack_forward(x, mask, params, stack_spec)
    top = finals[-1]
    summary = np.concatenate([state[0] for state in top], axis=1) if len(top) > 1 else top[0][0]
    logits = layers.linear_forward(summary, params["head.W"], params["head.b"])
    return logits, ForwardCache(ids, stack_cache, summary)


def backward(d_logits: np.ndarray, cache: ForwardCache, params: dict, spec: ModelSpec) -> dict[str, np.ndarray]:
    """∂L/∂logits (N, O) → gradients with the same keys as ``params``."""
    stack_spec = spec.stack
    H = spec.hidden_size
    d_summary, dW, db = layers.linear_backward(d_logits, cache.summary, params["head.W"])
    d_finals = [[None] * stack_spec.directions for _ in range(spec.num_layers)]
    for d in range(stack_spec.directions):
        # summary = concat of each direction's final h; c (LSTM) gets no direct gradient
        d_finals[-1][d] = (d_summary[:, d * H : (d + 1) * H],) + (None,) * (stack_spec.cell_type.state_size - 1)
    grads, dx, _ = stack_backward(None, d_finals, cache.stack, params, stack_spec)
    if spec.input == "embedding":
        grads["embedding.weight"] = layers.embedding_backward(dx, cache.ids, spec.vocab_size)
    grads["head.W"], grads["head.b"] = dW, db
    return {k: grads[k] for k in params}


def loss_from_logits(logits: np.ndarray, targets: np.ndarray, spec: ModelSpec):
    """Mean loss and ∂loss/∂logits (N, O); targets (N,) are class indices.

    Two classes: binary cross-entropy on the single logit; more: softmax cross-entropy.
    """
    if spec.num_outputs == 1:
        loss, dz = losses.bce_with_logits(logits[:, 0], targets)
        return loss, dz[:, None]
    return losses.softmax_cross_entropy(logits, targets)


def loss_and_grads(params: dict, spec: ModelSpec, ids: np.ndarray, mask: np.ndarray, targets: np.ndarray):
    """One forward and backward pass: returns (mean loss, grads, logits)."""
    logits, cache = forward(params, spec, ids, mask)
    loss, d_logits = loss_from_logits(logits, targets, spec)
    return loss, backward(d_logits, cache, params, spec), logits


def probabilities(logits: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Class probabilities (N, C) from logits (N, O)."""
    if spec.num_outputs == 1:
        p1 = sigmoid(logits[:, 0])
        return np.stack([1.0 - p1, p1], axis=1)
    return softmax(logits)
