"""The encoder–decoder (task seq2seq): gradients, padding, decoding, BLEU, data, the CLI and bad input.

Oracles: centred finite differences (float64), each pair run alone against the padded batch,
a hand-made next-token distribution for beam search and a hand-computed BLEU.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_contracts import assert_documented

from rnncli.models import decoding

from rnncli.tools import gradcheck as gc

from rnncli.data import synthetic
from rnncli.models import encoder_decoder as seq2seq
from rnncli.data.vocab import BOS_ID, EOS_ID
from rnncli.errors import ExitCode
from rnncli.models import ModelSpec, init_params
from rnncli.tasks import model_spec
from rnncli.tasks.seqmetrics import corpus_bleu, sequence_scores

REVERSE = "configs/reverse-seq2seq.yaml"
REVERSE_DATA = ["data", "make", "reverse", "--length", "6", "--n", "600", "--out", "data/reverse.tsv"]


def spec(cell="gru", bi=True, layers=2, attention=True, **extra) -> ModelSpec:
    return model_spec(dict(vocab_size=7, num_classes=8, task="seq2seq", cell=cell, embedding_dim=3, hidden_size=4,
                     num_layers=layers, bidirectional=bi, attention=attention, **extra))


def pairs(rng, n=3, S=5, M=4):
    """Sources of lengths S … 1 and targets of mixed lengths, padded, as (src, src_mask, targets)."""
    src_len = np.linspace(S, 1, n).round().astype(int)
    tgt_len = rng.permutation(np.linspace(M, 1, n).round().astype(int))
    src = rng.integers(1, 7, size=(n, S))
    mask = np.arange(S)[None] < src_len[:, None]
    src[~mask] = 0
    targets = rng.integers(1, 8, size=(n, M))
    targets[np.arange(M)[None] >= tgt_len[:, None]] = 0
    return src, mask, targets


# --- gradients -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", gc.sampling_cases(), ids=lambda c: gc.case_name(*c))
def test_sampled_decoder_inputs_have_exact_gradients(case):
    """The step-by-step decoder (teacher forcing < 1), with attention and dropout, against finite differences."""
    s, padded, teacher_forcing = case
    assert gc.check_case(s, padded, seed=2, teacher_forcing=teacher_forcing).passed


def test_gradcheck_covers_every_seq2seq_parameter():
    names = set()
    for s, _ in gc.default_cases():
        if s.task == "seq2seq":
            names |= set(s.param_shapes())
    assert {"src_embedding.weight", "tgt_embedding.weight", "encoder.l1_reverse.W_hh", "decoder.l1.W_ih",
            "bridge.l1.W_h", "bridge.l0.b_c", "attn.W_q", "attn.W_k", "attn.b", "attn.v", "head.W"} <= names


def test_teacher_forcing_one_is_the_step_by_step_decoder_fed_gold_tokens():
    """One pass over the whole target equals the step-by-step path when every input is gold."""
    s = spec(cell="lstm")
    rng = np.random.default_rng(0)
    params = init_params(s, rng, np.float64)
    src, mask, targets = pairs(rng)
    whole = seq2seq.loss_and_grads(params, s, src, mask, targets)
    stepped = seq2seq.loss_and_grads(params, s, src, mask, targets, np.random.default_rng(1), teacher_forcing=1 - 1e-12)
    assert whole[0] == pytest.approx(stepped[0], abs=1e-12)
    for k in params:
        np.testing.assert_allclose(whole[1][k], stepped[1][k], atol=1e-12, err_msg=k)


# --- padding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bi,attention", [(False, False), (True, True)])
def test_a_padded_batch_equals_each_pair_alone(cell, bi, attention):
    """Σ over tokens of the loss and its gradients: the batch gives exactly what the pairs give one by one."""
    s = spec(cell, bi, 2, attention)
    rng = np.random.default_rng(3)
    params = init_params(s, rng, np.float64)
    src, mask, targets = pairs(rng)
    count = lambda t: np.count_nonzero(t)  # noqa: E731
    loss, grads, logits, _ = seq2seq.loss_and_grads(params, s, src, mask, targets)
    total = {k: g * count(targets) for k, g in grads.items()}
    alone_loss = 0.0
    alone = {k: np.zeros_like(p) for k, p in params.items()}
    for i in range(len(src)):
        S, M = mask[i].sum(), count(targets[i])
        l_i, g_i, z_i, _ = seq2seq.loss_and_grads(params, s, src[i : i + 1, :S], mask[i : i + 1, :S],
                                                  targets[i : i + 1, :M])
        np.testing.assert_allclose(logits[i, :M], z_i[0], atol=1e-12)
        alone_loss += l_i * M
        for k in alone:
            alone[k] += g_i[k] * M
    assert loss * count(targets) == pytest.approx(alone_loss, abs=1e-10)
    for k in params:
        np.testing.assert_allclose(total[k], alone[k], atol=1e-10, err_msg=k)


# --- decoding --------------------------------------------------------------------------------------


def test_greedy_equals_beam_one_and_padding_does_not_change_decoding():
    s = spec("lstm", True, 2, True, max_target_length=4)
    rng = np.random.default_rng(4)
    params = init_params(s, rng, np.float64)
    src, mask, _ = pairs(rng, n=4, S=6)
    greedy = decoding.decode(params, s, src, mask, max_length=8, beam=1)
    for i, (tokens, score) in enumerate(greedy):
        beam = decoding.beam_search(*_stepper(params, s, src[i : i + 1], mask[i : i + 1]), beam=1, max_length=8)
        assert beam[0] == tokens and beam[1] == pytest.approx(score, abs=1e-9)
        alone = decoding.decode(params, s, src[i : i + 1, : mask[i].sum()], mask[i : i + 1, : mask[i].sum()], 8)
        assert alone[0][0] == tokens


def _stepper(params, s, src, mask):
    stepper = decoding.ModelStepper(params, s, src, mask)
    return stepper.step, stepper.select, stepper.initial()


def test_beam_scores_are_the_log_probability_of_the_output():
    """A beam's score is what teacher-forcing the output (plus <eos>) gives: Σ_t log p(y_t | y_<t, x)."""
    s = spec("gru", False, 1, True)
    rng = np.random.default_rng(5)
    params = init_params(s, rng, np.float64)
    src, mask, _ = pairs(rng, n=1)
    tokens, score = decoding.beam_search(*_stepper(params, s, src, mask), beam=3, max_length=6)
    target = np.array([tokens + [EOS_ID]]) if len(tokens) < 6 else np.array([tokens])
    loss = seq2seq.target_loss(seq2seq.forward(params, s, src, mask, target)[0], target)[0]
    assert score == pytest.approx(-loss * target.shape[1], abs=1e-9)


TABLE = {(): {4: 0.6, 5: 0.4}, (4,): {3: 0.3, 4: 0.35, 5: 0.35}, (4, 4): {3: 1.0}, (4, 5): {3: 1.0},
         (5,): {3: 0.9, 4: 0.1}}  # prefix -> next-token probabilities (<eos> = 3)


def _table_step(prev, prefixes):
    """A hand-made model over tokens 0 … 5: the next-token distribution depends on the prefix."""
    prefixes = [p + ((int(t),) if t != BOS_ID else ()) for p, t in zip(prefixes, prev)]
    logp = np.full((len(prev), 6), -np.inf)
    for row, p in enumerate(prefixes):
        for token, q in TABLE[p].items():
            logp[row, token] = math.log(q)
    return logp, prefixes


def test_beam_search_finds_the_likelier_output_that_greedy_misses():
    """Greedy takes 'a' (0.6) and ends with 'a a' at 0.6·0.35 = 0.21; beam 2 keeps 'b', whose
    'b <eos>' has 0.4·0.9 = 0.36."""
    select = lambda state, rows: [state[r] for r in rows]  # noqa: E731
    [(greedy, g_score)] = decoding.greedy(_table_step, [()], 1, max_length=5)
    assert greedy == [4, 4] and g_score == pytest.approx(math.log(0.21))
    assert decoding.beam_search(_table_step, select, [()], 1, 5) == (greedy, pytest.approx(g_score))
    tokens, score = decoding.beam_search(_table_step, select, [()], 2, 5)
    assert tokens == [5] and score == pytest.approx(math.log(0.36))


def test_decoding_stops_at_the_length_limit():
    select = lambda state, rows: [state[r] for r in rows]  # noqa: E731
    assert decoding.greedy(_table_step, [()], 1, max_length=1)[0][0] == [4]
    assert decoding.beam_search(_table_step, select, [()], 2, max_length=1)[0] == [4]


# --- metrics ---------------------------------------------------------------------------------------


def test_bleu_against_a_hand_computed_corpus():
    pred = ["the cat sat on the mat".split(), "a b c d e".split()]
    ref = ["the cat is on the mat".split(), "a b c d e f".split()]
    # matched / total n-grams over the corpus: 1-grams 5+5 / 6+5, 2-grams 3+4 / 5+4, 3-grams 1+3 / 4+3,
    # 4-grams 0+2 / 3+2; c = 11 < r = 12, so the brevity penalty is exp(1 - 12/11)
    expected = math.exp(1 - 12 / 11) * (10 / 11 * 7 / 9 * 4 / 7 * 2 / 5) ** 0.25
    assert corpus_bleu(pred, ref) == pytest.approx(expected, rel=1e-12)
    assert corpus_bleu(ref, ref) == pytest.approx(1.0)
    assert corpus_bleu([["x", "y"]], [["x", "y"]]) == 0.0  # no 4-gram at all: unsmoothed BLEU is 0
    assert corpus_bleu([[]], [["a"]]) == 0.0


def test_token_accuracy_and_exact_match():
    scores = sequence_scores([[1, 2], [1, 2, 3], []], [[1, 2], [1, 5], [7]])
    # positions with <eos>: [1 2 e]=[1 2 e] 3/3; [1 2 3 e] vs [1 5 e] 1/3; [e] vs [7 e] 0/2
    assert scores["accuracy"] == pytest.approx(4 / 8)
    assert scores["exact_match"] == pytest.approx(1 / 3)


# --- data ------------------------------------------------------------------------------------------


def test_pair_tasks_are_right_seeded_and_distinct():
    for task in ("reverse", "sort", "dates"):
        a, b = synthetic.make(task, None, 300, seed=1), synthetic.make(task, None, 300, seed=1)
        assert a.rows == b.rows and a.rows != synthetic.make(task, None, 300, seed=2).rows
        assert len({src for src, _ in a.rows}) == 300
        assert a.config_task == "seq2seq" and a.header == ["source", "target"]
    for src, tgt in synthetic.make("reverse", 4, 50).rows:
        assert tgt == src[::-1] and 1 <= len(src) <= 4
    for src, tgt in synthetic.make("sort", 4, 50).rows:
        assert tgt == "".join(sorted(src)) and src.isdigit()
    assert synthetic.written_date(datetime.date(1998, 3, 3), 0) == "march 3rd 1998"
    assert synthetic.written_date(datetime.date(2011, 11, 12), 4) == "the 12th of november 2011"
    assert synthetic.written_date(datetime.date(1950, 1, 21), 2) == "jan 21, 1950"
    for src, tgt in synthetic.make("dates", None, 200).rows:
        date = datetime.date.fromisoformat(tgt)
        assert src in {synthetic.written_date(date, style) for style in range(5)}


def test_too_many_distinct_pairs_is_a_usage_error(cli, workspace):
    r = cli("data", "make", "sort", "--length", "1", "--n", "20", "--out", "s.tsv")
    assert r.code == ExitCode.USAGE
    assert r.err_lines[0] == "Error: sort has fewer than 20 distinct examples at this length."


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory) -> Path:
    """configs/reverse-seq2seq.yaml trained once on its generated data (a few seconds)."""
    import contextlib

    from conftest import invoke, link_repo_folders

    ws = tmp_path_factory.mktemp("seq2seq")
    link_repo_folders(ws)
    with contextlib.chdir(ws):
        assert invoke(REVERSE_DATA).code == 0
        r = invoke(["train", "--config", REVERSE, "--json"])
    assert r.code == 0, r.err
    return ws / "runs" / "reverse-seq2seq"


def test_train_writes_both_vocabularies_and_reports_decoding_scores(reverse_run):
    records = [json.loads(line) for line in (reverse_run / "metrics.jsonl").read_text().splitlines()]
    assert {"train_accuracy", "dev_loss", "dev_accuracy", "dev_exact_match", "dev_bleu"} <= set(records[-1])
    assert records[-1]["dev_loss"] < records[0]["dev_loss"]
    target = json.loads((reverse_run / "target-vocab.json").read_text())
    assert target["tokens"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    run = json.loads((reverse_run / "run.json").read_text())
    assert run["model"]["max_target_length"] == 6 and run["model"]["num_classes"] == len(target["tokens"])


def test_predict_and_evaluate(cli, reverse_run):
    r = cli("predict", "--model", reverse_run, "--json", "abc", "jihg")
    assert r.code == 0, r.err
    for p in r.jsonl():
        assert_documented("rnn predict", p, {"text", "tokens", "ids", "unknown", "output", "output_tokens", "log_prob"})
        assert p["output"] == "".join(p["output_tokens"]) and p["log_prob"] <= 0
    r = cli("predict", "--model", reverse_run, "--beam", "3", "--max-length", "2", "-", stdin="abc\n\njihg\n")
    assert r.code == 0 and "jihg" in r.out and "abc" in r.out
    data = reverse_run.parent.parent / "data/reverse.tsv"
    r = cli("evaluate", "--model", reverse_run, "--data", data, "--json")
    assert r.code == 0, r.err
    ev = r.json()
    assert_documented("rnn evaluate", ev, {"model", "weights", "epoch", "data", "task", "n", "tokens", "loss", "labels",
                                           "accuracy", "exact_match", "bleu"})
    assert ev["n"] == 600 and 0 <= ev["exact_match"] <= ev["accuracy"] <= 1
    text = cli("evaluate", "--model", reverse_run, "--data", data, "--beam", "2")
    assert text.code == 0 and "exact match" in text.out and "BLEU" in text.out
    s = cli("summary", "--model", reverse_run, "--json").json()
    assert {p["name"] for p in s["parameters"]} >= {"src_embedding.weight", "decoder.l0.W_hh", "head.W"}


def test_config_show_set_gradcheck_and_resume(cli, workspace):
    assert cli(*REVERSE_DATA).code == 0
    shown = cli("config", "show", REVERSE, "--set", "train.teacher_forcing=0.5", "--set", "model.attention=true", "--json")
    assert shown.json()["train"]["teacher_forcing"] == 0.5 and shown.json()["model"]["attention"] is True
    g = cli("gradcheck", "--config", REVERSE, "--set", "model.hidden_size=4", "--set", "model.attention=true", "--json")
    assert g.code == 0 and g.json()["passed"], g.out
    common = ["--set", "train.epochs=1", "--set", "train.teacher_forcing=0.7", "--set", "model.dropout=0.2",
              "--set", "model.num_layers=2", "--set", "model.bidirectional=true"]
    assert cli("train", "--config", REVERSE, *common, "--set", "run.dir=runs/once").code == 0
    assert cli("train", "--config", REVERSE, *common, "--set", "run.dir=runs/twice").code == 0
    assert cli("train", "--resume", "runs/twice", "--set", "train.epochs=2").code == 0
    assert cli("train", "--config", REVERSE, *common, "--set", "run.dir=runs/straight", "--set", "train.epochs=2").code == 0
    for name in ("weights.npz", "checkpoint.npz"):
        with np.load(workspace / "runs/twice" / name) as a, np.load(workspace / "runs/straight" / name) as b:
            assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files if k != "meta"), name


def test_export_and_grad_norms_refuse_seq2seq(cli, reverse_run, workspace):
    r = cli("export", reverse_run, "--format", "torch", "--out", "t.npz")
    assert r.code == ExitCode.USAGE and "is a seq2seq model" in r.err_lines[0]
    r = cli("grad-norms", "--model", reverse_run)
    assert r.code == ExitCode.USAGE and "grad-norms measures one recurrent stack" in r.err_lines[0]


# --- bad input -------------------------------------------------------------------------------------


def _config(workspace: Path, train: str, **model) -> str:
    lines = ["task: seq2seq", "data:", f"  train: {train}", "  text_field: 0", "  label_field: 1", "  tokenizer: whitespace",
             "model:", *[f"  {k}: {v}" for k, v in model.items()], "train:", "  epochs: 1"]
    (workspace / "s.yaml").write_text("\n".join(lines) + "\n")
    return "s.yaml"


@pytest.mark.parametrize("content,first", [
    ("a b\tb a\nc d e\n", "Error: pairs.tsv:2: "),
    ("a b\tb a\n \tx\n", "Error: pairs.tsv:2: the text (column 0) is empty."),
    ("a b\tb a\nx\t \n", "Error: pairs.tsv:2: the label (column 1) is empty."),
])
def test_bad_pairs_are_data_errors(cli, workspace, content, first):
    (workspace / "pairs.tsv").write_text(content)
    r = cli("train", "--config", _config(workspace, "pairs.tsv"))
    assert r.code == ExitCode.DATA, r.err
    assert r.err_lines[0].startswith(first) and r.err_lines[1].startswith("hint: ") and "Traceback" not in r.err


def test_bad_seq2seq_configs_list_every_problem(cli, workspace):
    (workspace / "pairs.tsv").write_text("a b\tb a\n")
    path = _config(workspace, "pairs.tsv", pooling="mean", input="onehot")
    with open(workspace / path, "a") as f:
        f.write("  teacher_forcing: 1.5\n  log_grad_norms: true\n")
    r = cli("config", "validate", path)
    assert r.code == ExitCode.CONFIG
    assert "model.pooling" in r.err and "applies to task classify or regress only; task is 'seq2seq'" in r.err
    assert "model.input" in r.err and "must be 'embedding' for task seq2seq" in r.err
    assert "train.teacher_forcing" in r.err and "must be <= 1; got 1.5" in r.err
    assert "train.log_grad_norms" in r.err and "(4 problems)" in r.err
    r = cli("config", "show", "configs/sentiment-toy.yaml", "--set", "model.attention=true")
    assert r.code == ExitCode.CONFIG and "applies to task seq2seq only; task is 'classify'" in r.err


def test_beam_on_another_task_is_a_usage_error(cli, toy_run):
    r = cli("predict", "--model", toy_run, "--beam", "2", "good movie")
    assert r.code == ExitCode.USAGE
    assert r.err_lines[0].startswith("Error: --beam and --max-length apply to seq2seq runs;")
