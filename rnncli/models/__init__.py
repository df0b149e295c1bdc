"""Models: what computes a :class:`ModelSpec`, as peers behind one interface.

Each model is a module with the same functions (the engine's one time loop underneath both):

    param_shapes(spec) -> {name: shape}
    loss_and_grads(params, spec, ids, mask, targets, state0=None, dropout_rng=None, record=None,
                   teacher_forcing=1.0, label_smoothing=0.0) -> (mean loss, grads with the keys of params, logits, cache)
    (the sequence model's also takes ``class_weights`` and ``adversarial``)
    loss(params, spec, ids, mask, targets, dropout_rng=None, teacher_forcing=1.0, cache=None,
         label_smoothing=0.0) -> float

``sequence``         input → recurrent stack → head: classify, regress, tag, lm
``encoder_decoder``  an encoder stack, a bridge, a decoder stack with optional attention: seq2seq
``generator``        a condition's embedding sets the start state of a decoder stack: generate

``decoding`` holds greedy and beam-search decoding for the encoder–decoder.

Training, gradient checks and diagnostics call :func:`loss_and_grads` (or :func:`model_for`) and
never ask which model they have.
"""

from __future__ import annotations

from types import ModuleType

from rnncli.models import encoder_decoder, generator, sequence
from rnncli.models.spec import CHOICES, ModelSpec, feature_param, init_params

MODELS: dict[str, ModuleType] = {"sequence": sequence, "encoder_decoder": encoder_decoder, "generator": generator}


def model_for(spec: ModelSpec) -> ModuleType:
    """The model module that computes ``spec`` (its ``architecture``)."""
    return MODELS[spec.architecture]


def loss_and_grads(params: dict, spec: ModelSpec, ids, mask, targets, state0=None, dropout_rng=None,
                   record: dict | None = None, teacher_forcing: float = 1.0, class_weights=None,
                   label_smoothing: float = 0.0, adversarial: float = 0.0):
    """One forward and backward pass of the model of ``spec``: (mean loss, grads, logits, cache).
    ``class_weights`` (C,) weigh the sequence model's classes (``train.class_weights``); ``label_smoothing``
    smooths every softmax (or sigmoid) target (``train.label_smoothing``); ``adversarial`` is the sequence
    model's adversarial training (``train.adversarial``)."""
    extra = {} if class_weights is None else {"class_weights": class_weights}
    if label_smoothing:
        extra["label_smoothing"] = label_smoothing
    if adversarial:
        extra["adversarial"] = adversarial
    return model_for(spec).loss_and_grads(params, spec, ids, mask, targets, state0, dropout_rng, record,
                                          teacher_forcing, **extra)


__all__ = ["CHOICES", "MODELS", "ModelSpec", "feature_param", "init_params", "loss_and_grads", "model_for",
           "sequence", "encoder_decoder", "generator"]
