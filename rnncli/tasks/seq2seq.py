"""seq2seq: TSV/CSV source → target (many-to-many with unequal lengths; an encoder–decoder).

(N, S) source ids, (N, M+1) target ids ending in <eos> from a second (target) vocabulary. Metrics:
loss (teacher-forced, per target token), token accuracy, exact match and BLEU of the decoded outputs.
"""

from __future__ import annotations

import itertools

import numpy as np

from rnncli.data import UNK_ID, LabelVocab, Vocab, tokenize
from rnncli.data.subwords import WordFeatures
from rnncli.data.vocab import EOS_ID
from rnncli.engine.recurrent import with_transposes
from rnncli.errors import DataError, show
from rnncli.tasks.seqmetrics import sequence_scores
from rnncli.models import encoder_decoder
from rnncli.models.decoding import decode_all
from rnncli.data.batching import by_length
from rnncli.tasks.base import EVAL_BATCH_SIZE, REGULARISED, Batch, Dataset, Scored, Task, output_vocabulary, pad_inputs, token_inputs


class Seq2Seq(Task):
    name = "seq2seq"
    epoch_metrics = ("loss", "accuracy", "exact_match", "bleu")  # what metrics() scores after every epoch
    columns, right = ("text", "output", "log-probability"), {2}
    accuracy = True
    sequence_targets = True
    target_vocab_file = True
    monitors = ("dev_loss", "dev_accuracy")
    attention = True
    architecture = "encoder_decoder"

    def config_problems(self, cfg) -> list[tuple[str, str]]:
        """An encoder–decoder reads source<TAB>target rows and embeds both sides."""
        problems = []
        if cfg.model.input != "embedding":
            problems.append(("model.input", f"must be 'embedding' for task seq2seq (both sides are embedded); "
                                             f"got {show(cfg.model.input)}"))
        if cfg.data.format not in ("auto", "tsv", "csv", "jsonl"):
            problems.append(("data.format", f"must be 'auto', 'tsv', 'csv' or 'jsonl' for task seq2seq (source and "
                                            f"target columns); got {show(cfg.data.format)}"))
        if cfg.train.log_grad_norms:
            problems.append(("train.log_grad_norms", "applies to tasks with one recurrent stack; task seq2seq has two"))
        if cfg.model.variational_dropout and cfg.train.teacher_forcing < 1:
            problems.append(("model.variational_dropout", "needs the decoder run as one pass (train.teacher_forcing: 1); "
                                                          "run step by step, each step would draw its own masks"))
        if cfg.vocab.path:
            problems.append(("vocab.path", "applies to tasks with one vocabulary; seq2seq builds its source and "
                                           "target vocabularies from data.train"))
        return problems

    gradcheck_classes = 7  # the target vocabulary

    def gradcheck_cases(self, cells) -> tuple[list, list]:
        """Every cell × {uni, bi} encoder × {1, 2} layers on padded pairs, with attention in half of them, and
        with attention and every dropout, for every cell (a unidirectional encoder: through the bridge, the
        bidirectional one's gradients come near the finite differences' rounding noise with dropout's scaling)."""
        return [], [(self.gradcheck_spec(cell, act, bi, layers, False, attention=(layers + bi) % 2 == 1), True)
                    for (cell, act), bi, layers in itertools.product(cells, [False, True], [1, 2])] + [
            (self.gradcheck_spec(cell, act, False, 2, False, attention=True, **REGULARISED), True) for cell, act in cells]

    def gradcheck_sampling_cases(self, cells) -> list:
        """Sampled decoder inputs (teacher forcing 0.5, the decoder run step by step), attention, every dropout
        (masks per entry) and the encoder's learned initial state, for every cell."""
        return [(self.gradcheck_spec(cell, act, True, 2, False, attention=True, learn_h0=True,
                                     **{**REGULARISED, "variational": False}), True, 0.5) for cell, act in cells]

    def random_targets(self, spec, rng, mask, padded) -> np.ndarray:
        """Target lengths 1 … T+1, independent of the source's."""
        N, T = mask.shape
        target_lengths = rng.permutation(np.linspace(T + 1, 1, N).round().astype(int)) if padded else np.full(N, T + 1)
        targets = rng.integers(1, spec.num_classes, size=(N, T + 1))
        targets[np.arange(T + 1)[None, :] >= target_lengths[:, None]] = 0
        return targets

    def target_token_lists(self, cfg, raw) -> list[list[str]]:
        """The target side of each pair, tokenized as the source."""
        return [tokenize(ex.label, cfg.data.tokenizer, cfg.data.lowercase) for ex in raw]

    def target_vocab(self, cfg, raw) -> Vocab:
        """<pad>, <unk>, <bos>, <eos>, then the training targets' tokens (vocab.min_freq and vocab.max_size
        apply as to the source)."""
        return output_vocabulary(cfg, self.target_token_lists(cfg, raw))

    def longest_target(self, cfg, raw) -> int:
        return max(map(len, self.target_token_lists(cfg, raw)))

    def num_classes(self, vocab_size: int, labels: LabelVocab, target_vocab: Vocab | None) -> int:
        return len(target_vocab)

    def encode(self, cfg, raw, vocab: Vocab, labels: LabelVocab, path="data", feature_dim: int | None = None,
               word_features: WordFeatures | None = None, target_vocab: Vocab | None = None) -> Dataset:
        toks = self.token_lists(cfg, raw)
        targets = self.target_token_lists(cfg, raw)
        for i, (source, target) in enumerate(zip(toks, targets)):
            if not source or not target:
                side = "source" if not source else "target"
                raise DataError(f"{path}: pair {i + 1} has an empty {side} (no tokens after tokenizing "
                                f"{(raw[i].text if not source else raw[i].label)!r} with data.tokenizer "
                                f"{cfg.data.tokenizer!r}).", hint="every line needs a non-empty source<TAB>target pair.")
        return Dataset([vocab.encode(t) for t in toks],
                       [np.asarray(target_vocab.encode(t) + [EOS_ID], dtype=np.int64) for t in targets], tokens=toks)

    def count(self, batch: Batch) -> int:
        return int(np.count_nonzero(batch.targets))  # real target tokens

    def correct(self, spec, logits: np.ndarray, batch: Batch) -> int:
        """Next-token hits under teacher forcing."""
        return int(np.sum((logits.argmax(axis=-1) == batch.targets) & (batch.targets != 0)))

    def score(self, params: dict, spec, data: Dataset, batch_size: int = EVAL_BATCH_SIZE,
              max_length: int | None = None, beam: int = 1) -> Scored:
        """Teacher-forced loss over real target tokens, and the outputs decoded with ``beam`` (1: greedy)
        up to ``max_length`` tokens (default: :func:`rnncli.models.decoding.default_max_length`)."""
        total, terms = 0.0, 0
        params = with_transposes(params)  # fixed while scoring: W_hh^T once, not per batch or token
        if data.targets is not None:
            for chunk in by_length(data.ids, batch_size):
                ids, mask = pad_inputs(data, chunk)
                targets = self.batch_targets(data, chunk)
                logits, _ = encoder_decoder.forward(params, spec, ids, mask, targets)
                n = int(np.count_nonzero(targets))
                total += encoder_decoder.target_loss(logits, targets)[0] * n
                terms += n
        outputs = [tokens for tokens, _ in decode_all(params, spec, data.ids, batch_size, max_length, beam)]
        return Scored(total / max(terms, 1), terms, outputs)

    def prediction_columns(self, prediction: dict, top_k: int | None, threshold: float | None) -> list[dict]:
        return [{"predicted": prediction["output"], "log_probability": prediction["log_prob"]}]

    def predict(self, run, texts, beam: int = 1, max_length: int | None = None, tokens=None) -> list[dict]:
        """Each text decoded with ``beam`` (1: greedy) up to ``max_length`` tokens: the output (tokens joined
        without spaces for the char tokenizer, else with one), its tokens and its log-probability."""
        inputs = token_inputs(run, texts)
        joiner = "" if run.tokenizer == "char" else " "
        results = []
        for p, (tokens, log_prob) in zip(inputs, decode_all(run.params, run.spec, [p["ids"] for p in inputs],
                                                            max_length=max_length, beam=beam)):
            words = run.target_vocab.decode(tokens)
            results.append({**p, "output": joiner.join(words), "output_tokens": words, "log_prob": log_prob})
        return results

    def row(self, p: dict) -> list:
        return [p["text"], p["output"], p["log_prob"]]

    def describe_size(self, n: int, tokens: int) -> str:
        return f"{n} pairs, {tokens} target tokens"

    def metrics(self, targets, scored, labels: list[str], full: bool = False) -> dict:
        # a reference's <unk> (a token the training targets never had) can never be matched
        references = [[-1 if i == UNK_ID else int(i) for i in t[:-1]] for t in targets]
        return {"loss": scored.loss, **sequence_scores(scored.outputs, references)}
