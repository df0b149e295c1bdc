"""generate: TSV/CSV label → text (one-to-many, a conditional sequence generator).

The label column (``data.label_field``) holds the condition, the text column (``data.text_field``) the
text to generate, tokenized by ``data.tokenizer``. The model (:mod:`rnncli.models.generator`) starts
from the condition and is trained with teacher forcing on the real tokens and <eos>. Metrics: loss
(nats per token, <eos> included) and perplexity e^loss. ``rnn generate --condition LABEL`` samples.
"""

from __future__ import annotations

import itertools

import numpy as np

from rnncli.data import LabelVocab, Vocab, pad_batch
from rnncli.data.subwords import WordFeatures
from rnncli.data.vocab import EOS_ID
from rnncli.engine.recurrent import with_transposes
from rnncli.errors import DataError, UsageError, show
from rnncli.models import model_for
from rnncli.tasks.base import EVAL_BATCH_SIZE, REGULARISED, Batch, Dataset, Scored, Task, by_length, label_id, output_vocabulary


class Generate(Task):
    name = "generate"
    epoch_metrics = ("loss", "perplexity")  # what metrics() scores after every epoch
    sequence_targets = True
    gradcheck_classes = 8  # the vocabulary
    gradcheck_bidirectional = False  # the stack generates left to right
    causal = True
    conditioned = True
    architecture = "generator"

    def config_problems(self, cfg) -> list[tuple[str, str]]:
        """A conditional generator reads label<TAB>text rows and embeds the tokens it generates."""
        problems = []
        if cfg.model.input != "embedding":
            problems.append(("model.input", f"must be 'embedding' for task generate; got {show(cfg.model.input)}"))
        if cfg.model.learn_h0:
            problems.append(("model.learn_h0", "applies to tasks whose stack starts from a state of its own; task "
                                               "generate starts from its condition"))
        if cfg.data.format not in ("auto", "tsv", "csv", "jsonl"):
            problems.append(("data.format", f"must be 'auto', 'tsv', 'csv' or 'jsonl' for task generate (label and "
                                            f"text columns); got {show(cfg.data.format)}"))
        if cfg.train.log_grad_norms:
            problems.append(("train.log_grad_norms", "applies to the sequence model; task generate starts its stack "
                                                     "from a condition"))
        if cfg.vocab.path:
            problems.append(("vocab.path", "task generate builds its vocabulary (with <bos> and <eos>) from data.train"))
        return problems

    def vocabulary(self, cfg, raw) -> Vocab:
        return output_vocabulary(cfg, self.token_lists(cfg, raw))

    def labels(self, cfg, raw) -> LabelVocab:
        return LabelVocab.build(ex.label for ex in raw)

    def num_classes(self, vocab_size: int, labels: LabelVocab, target_vocab: Vocab | None) -> int:
        return vocab_size

    def spec_fields(self, labels: LabelVocab) -> dict:
        return {"num_conditions": len(labels)}

    def encode(self, cfg, raw, vocab: Vocab, labels: LabelVocab, path="data", feature_dim: int | None = None,
               word_features: WordFeatures | None = None, target_vocab: Vocab | None = None) -> Dataset:
        """``ids``: each text's token ids and <eos> (the targets); ``targets``: the condition ids."""
        toks = self.token_lists(cfg, raw)
        for i, t in enumerate(toks):
            if not t:
                raise DataError(f"{path}: example {i + 1} has no text to generate (no tokens after tokenizing "
                                f"{raw[i].text!r} with data.tokenizer {cfg.data.tokenizer!r}).",
                                hint="every row needs a label and a non-empty text.")
        conditions = np.array([label_id(labels, ex.label, i, path) for i, ex in enumerate(raw)], dtype=np.int64)
        return Dataset([np.asarray(vocab.encode(t) + [EOS_ID], dtype=np.int64) for t in toks], conditions, tokens=toks)

    def batch(self, data: Dataset, idx) -> Batch:
        """ids (N, M+1): the condition id, then y_1 … y_m (the inputs after <bos>); targets y_1 … y_m, <eos>."""
        targets, mask = pad_batch([data.ids[i] for i in idx])
        ids = np.zeros_like(targets)
        ids[:, 1:] = targets[:, :-1]
        ids *= mask  # no <eos> as an input
        ids[:, 0] = data.targets[idx]
        return Batch(ids, mask, targets)

    def count(self, batch: Batch) -> int:
        return int(batch.mask.sum())

    def score(self, params: dict, spec, data: Dataset, batch_size: int = EVAL_BATCH_SIZE,
              max_length: int | None = None, beam: int = 1) -> Scored:
        """The teacher-forced loss per token; no outputs (``rnn generate`` samples)."""
        total, terms = 0.0, 0
        params = with_transposes(params)  # fixed while scoring: W_hh^T once, not per batch
        for chunk in by_length(data.ids, batch_size):
            batch = self.batch(data, chunk)
            n = self.count(batch)
            total += model_for(spec).loss(params, spec, batch.ids, batch.mask, batch.targets) * n
            terms += n
        return Scored(total / max(terms, 1), terms, None)

    def metrics(self, targets, scored: Scored, labels: list[str], full: bool = False) -> dict:
        return {"loss": scored.loss, "perplexity": float(np.exp(min(scored.loss, 700.0)))}

    def predict(self, run, texts, beam: int = 1, max_length: int | None = None, tokens=None) -> list[dict]:
        raise UsageError(f"{run.path} generates text from a label; it does not read texts.",
                         hint=f"sample from it with `rnn generate --model {run.path} --condition LABEL`.")

    def try_command(self, run_dir) -> str:
        return f"rnn generate --model {run_dir} --condition LABEL --num 5"

    def describe_size(self, n: int, tokens: int) -> str:
        return f"{n} texts, {tokens} tokens"

    def describe_head(self, spec) -> str:
        return f"softmax per token ({spec.num_classes}-token vocabulary), from {spec.num_conditions} conditions"

    def gradcheck_spec(self, cell, activation, bidirectional, layers, onehot, **extra):
        extra.setdefault("num_conditions", 3)
        return super().gradcheck_spec(cell, activation, bidirectional, layers, False, **extra)

    def gradcheck_cases(self, cells) -> tuple[list, list]:
        """The matrix (unidirectional), and the condition fed at every step, without and with every dropout,
        for every cell."""
        matrix = [(self.gradcheck_spec(cell, act, False, layers, False), padded)
                  for (cell, act), layers, padded in itertools.product(cells, [1, 2], [True, False])]
        return matrix, [(self.gradcheck_spec(cell, act, False, 2, False, feed_condition=True, **extra), True)
                        for cell, act in cells for extra in ({}, REGULARISED)]

    def random_inputs(self, spec, rng, ids: np.ndarray) -> np.ndarray:
        ids = ids.copy()
        ids[:, 0] = rng.integers(0, spec.num_conditions, size=ids.shape[0])  # column 0: the condition
        return ids

    def random_targets(self, spec, rng, mask, padded) -> np.ndarray:
        return rng.integers(1, spec.num_classes, size=mask.shape) * mask
