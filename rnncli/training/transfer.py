"""Starting a model from the weights of runs of another task (``train.init_from``): a language
model's word embeddings and recurrent layers in a classifier or tagger, as ULMFiT (Howard & Ruder
2018) and ELMo (Peters et al. 2018) pretrain them; a forward and a backward language model fill a
bidirectional layer's two directions.

Unlike a warm start of the same task (:func:`rnncli.training.prepare.warm_params`), the model keeps
the vocabularies its own data gives it, so weights move by meaning, not by index:

- **Embedding.** Row ``vocab[w]`` of the model's table takes row ``run.vocab[w]`` of the first run's,
  for every word w both vocabularies hold (<pad> and <unk> excepted: they mean other things in each).
- **Layers.** The run's layer k, direction d fills the model's layer k, direction d; a run trained on
  reversed text (``data.reverse``) fills direction 1 (``rnn.lK_reverse``) instead. A model that itself
  reads backwards (a backward language model) takes no layers from a forward run, only its embedding.
  ``W_hh``, the biases and a learned initial state are copied whole. Of ``W_ih`` (G·H, D) the columns that read the same
  input: at layer 0 the first ``embedding_dim`` (the word embedding; word features follow it and
  start fresh), above it the block of H columns of each direction of the layer below.
- **The rest** (the head, word-feature tables, the character encoder) keeps its fresh initialisation.
"""

from __future__ import annotations

import numpy as np

from rnncli.data.vocab import SPECIALS
from rnncli.errors import ConfigError
from rnncli.models import ModelSpec

EMBEDDING = "embedding.weight"


def is_transfer(cfg, runs: list) -> bool:
    """Several runs, one of another task, or one that read its text the other way: a transfer; one run of
    the same task that read as the config reads is a warm start."""
    return len(runs) > 1 or runs[0].spec.task != cfg.task or runs[0].reverse != cfg.data.reverse


def _require_sequence(spec: ModelSpec, where: str, whose: str) -> None:
    if spec.architecture != "sequence" or spec.input != "embedding":
        raise ConfigError(f"train.init_from: {whose} is a {spec.task} model"
                          + ("" if spec.architecture != "sequence" else f" with model.input {spec.input}")
                          + "; a transfer moves a word embedding and a recurrent stack between models of tasks "
                            "classify, regress, tag and lm with model.input: embedding.",
                          hint=f"start from a language model (task: lm) or another such run; {where}")


def _check_shapes(spec: ModelSpec, run) -> None:
    """The model keys that must equal the run's for its weights to fit."""
    src = run.spec
    keys = [("cell", src.cell, spec.cell), ("hidden_size", src.hidden_size, spec.hidden_size),
            ("embedding_dim", src.embedding_dim, spec.embedding_dim)]
    if src.cell == "rnn":
        keys.append(("activation", src.activation, spec.activation))
    wrong = [(k, theirs, ours) for k, theirs, ours in keys if theirs != ours]
    if wrong:
        raise ConfigError(f"train.init_from: {run.path} has " + ", ".join(f"model.{k} {theirs}" for k, theirs, _ in wrong)
                          + "; this config has " + ", ".join(f"{ours}" for _, _, ours in wrong) + ".",
                          hint="set " + ", ".join(f"model.{k}: {theirs}" for k, theirs, _ in wrong)
                               + " (rnn summary --model RUN lists the run's keys).")


def _embedding_rows(table: np.ndarray, vocab, run) -> int:
    """Copy the run's rows of the words both vocabularies hold; returns how many."""
    source = run.params[EMBEDDING]
    words = vocab.itos[len(SPECIALS):]
    rows = [(i, run.vocab.stoi[w]) for i, w in enumerate(words, start=len(SPECIALS)) if w in run.vocab.stoi]
    if rows:
        ours, theirs = map(list, zip(*rows))
        table[ours] = source[theirs]
    return len(rows)


def _layers(params: dict, spec: ModelSpec, reverse: bool, run, filled: dict[str, str]) -> list[str]:
    """Copy the run's recurrent layers into the directions that read as they did (none, when the model reads
    its text the other way: a backward language model from a forward one); returns the names filled."""
    src, H, E = run.spec, spec.hidden_size, spec.embedding_dim
    flip = int(run.reverse != reverse)  # a backward language model is a forward model's reverse direction
    if flip and not spec.bidirectional and not reverse:
        raise ConfigError(f"train.init_from: {run.path} read its text backwards (data.reverse), so its layers fill "
                          "the reverse directions of a bidirectional model; this model has none.",
                          hint="set model.bidirectional: true, or leave that run out of train.init_from.")
    targets = {(k, d): name for k, d, name in spec.stack.layer_names()}
    names = []
    for k, d, source in src.stack.layer_names():
        target = targets.get((k, d ^ flip))  # the model's direction that reads as the run's direction d did
        if target is None:
            continue  # a layer the model has not, or a bidirectional run's reverse direction in a one-directional one
        if target in filled:
            raise ConfigError(f"train.init_from: {run.path} and {filled[target]} both fill {target}.",
                              hint="give one forward run and one trained with data.reverse: true.")
        for name, value in run.params.items():
            key = target + name[len(source):]
            if name.startswith(source + ".") and not name.endswith(".W_ih") and key in params:
                params[key][...] = value
        W_ih, theirs = params[f"{target}.W_ih"], run.params[f"{source}.W_ih"]
        if k == 0:
            W_ih[:, :E] = theirs[:, :E]
        else:  # the run's input block b is its layer k-1's direction b: the model's block b ^ flip
            for b in range(src.stack.directions):
                if (b ^ flip) < spec.stack.directions:
                    W_ih[:, (b ^ flip) * H:((b ^ flip) + 1) * H] = theirs[:, b * H:(b + 1) * H]
        filled[target] = str(run.path)
        names.append(target)
    return names


def transfer(params: dict[str, np.ndarray], spec: ModelSpec, vocab, runs: list, reverse: bool = False) -> list[dict]:
    """Fill ``params`` (the model's fresh initial weights, changed in place) from ``runs``; ``reverse``: the
    model reads its text backwards (data.reverse). One report per run: {"run", "words" (embedding rows
    copied; None after the first run), "vocabulary" (the model's words, <pad> and <unk> not counted),
    "layers" (the directions filled)}."""
    where = "or leave train.init_from out to start from scratch."
    _require_sequence(spec, where, "this config's model")
    filled: dict[str, str] = {}
    reports = []
    for i, run in enumerate(runs):
        _require_sequence(run.spec, where, str(run.path))
        _check_shapes(spec, run)
        words = _embedding_rows(params[EMBEDDING], vocab, run) if i == 0 else None
        if words == 0:
            raise ConfigError(f"train.init_from: none of this config's {len(vocab) - len(SPECIALS)} words is in the "
                              f"vocabulary of {run.path}.",
                              hint="train both on text tokenized and lowercased alike (data.tokenizer, data.lowercase).")
        layers = _layers(params, spec, reverse, run, filled)
        if i > 0 and not layers:
            raise ConfigError(f"train.init_from: {run.path} fills no layer of this model (only the first run's "
                              "embedding is taken).", hint="leave it out of train.init_from.")
        reports.append({"run": str(run.path), "words": words, "vocabulary": len(vocab) - len(SPECIALS), "layers": layers})
    return reports
