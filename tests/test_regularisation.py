"""Regularisation for recurrent models: input, between-layer and output dropout (per entry or variational,
one mask per sequence), word dropout and label smoothing; and model selection on held-out training data
(data.holdout_split) with dev scored once, and rnn train --seeds."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rnncli.engine import layers, losses
from rnncli.engine.gradcheck import numeric_grad, rel_error
from rnncli.engine.recurrent import StackSpec, stack_forward
from rnncli.errors import ExitCode
from rnncli.models import init_params, loss_and_grads
from rnncli.models.sequence import forward
from rnncli.models.sequence import loss as sequence_loss
from rnncli.tasks import model_spec
from rnncli.tools.gradcheck import check_case

TOY = "configs/sentiment-toy.yaml"


def batch(rng, N=4, T=6, V=9):
    lengths = np.array([T, 3, 5, 1])[:N]
    mask = np.arange(T)[None] < lengths[:, None]
    ids = np.where(mask, rng.integers(2, V, size=(N, T)), 0)
    return ids, mask


# ------------------------------------------------------------------------------------ dropout


def test_variational_mask_is_one_per_sequence_and_feature():
    rng = np.random.default_rng(0)
    keep = layers.dropout_mask(rng, (5, 7, 4), 0.5, np.float64, variational=True)
    assert keep.shape == (5, 1, 4)  # broadcasts over the 7 timesteps
    assert set(np.unique(keep)) <= {0.0, 2.0}  # inverted: kept entries are scaled by 1 / (1 - p)
    assert layers.dropout_mask(rng, (5, 7, 4), 0.5, np.float64).shape == (5, 7, 4)
    # the mean of many masks is 1: the expected activation is unchanged
    assert layers.dropout_mask(np.random.default_rng(1), (200, 1, 500), 0.3, np.float64).mean() == pytest.approx(1, abs=0.01)


def test_stack_draws_variational_masks_shared_over_time():
    rng = np.random.default_rng(0)
    spec = StackSpec("lstm", 5, 4, num_layers=2, bidirectional=True, dropout=0.5, input_dropout=0.5, variational=True)
    params = {k: rng.standard_normal(s) * 0.3 for k, s in spec.param_shapes().items()}
    x = rng.standard_normal((3, 6, 5))
    mask = np.ones((3, 6), dtype=bool)
    _, _, cache = stack_forward(x, mask, params, spec, dropout_rng=np.random.default_rng(1))
    assert cache.keep_in.shape == (3, 1, 5) and cache.keep[0].shape == (3, 1, 8)
    dropped = cache.inputs[1] == 0  # layer 1 reads layer 0's outputs ⊙ keep
    assert (dropped == dropped[:, :1]).all()  # the same features are dropped at every timestep
    assert dropped.any() and not dropped.all()
    per_entry = replace(spec, variational=False)
    _, _, cache = stack_forward(x, mask, params, per_entry, dropout_rng=np.random.default_rng(1))
    assert cache.keep_in.shape == (3, 6, 5) and cache.keep[0].shape == (3, 6, 8)


@pytest.mark.parametrize("task", ["classify", "tag", "lm"])
def test_no_dropout_at_evaluation(task):
    """Without a generator (evaluation, prediction) every dropout is off: the outputs are the plain model's."""
    rng = np.random.default_rng(2)
    plain = model_spec(dict(task=task, vocab_size=9, num_classes=9 if task == "lm" else 3, cell="gru",
                            embedding_dim=4, hidden_size=5, num_layers=2, bidirectional=task != "lm", pooling="last"))
    spec = replace(plain, dropout=0.5, input_dropout=0.5, output_dropout=0.5, word_dropout=0.5, variational=True)
    params = init_params(plain, rng, np.float64)
    ids, mask = batch(rng)
    evaluated, _ = forward(params, spec, ids, mask)
    np.testing.assert_array_equal(evaluated, forward(params, plain, ids, mask)[0])
    trained, _ = forward(params, spec, ids, mask, dropout_rng=np.random.default_rng(3))
    assert not np.allclose(trained, evaluated)


def test_word_dropout_never_touches_padding_or_specials():
    rng = np.random.default_rng(4)
    ids = np.array([[5, 1, 7, 0, 0], [2, 3, 0, 0, 0], [9, 9, 9, 9, 9]])
    dropped = layers.word_dropout(ids, 0.999, rng)
    np.testing.assert_array_equal(dropped == 0, ids == 0)  # padding stays padding
    assert (dropped[ids >= 2] == 1).all()  # real tokens became <unk>
    kept = layers.word_dropout(ids, 0.999, rng, first=4)  # the generator's <bos> 2 and <eos> 3 stay
    np.testing.assert_array_equal(kept[ids < 4], ids[ids < 4])
    # through the model: a padded position reads <pad> whatever p is, and the mask still ends each sequence
    spec = model_spec(dict(task="tag", vocab_size=10, num_classes=3, cell="lstm", embedding_dim=3, hidden_size=3,
                           word_dropout=0.999))
    params = init_params(spec, rng, np.float64)
    mask = ids > 0
    _, cache = forward(params, spec, ids, mask, dropout_rng=np.random.default_rng(5))
    np.testing.assert_array_equal(cache.ids, np.where(mask, 1, 0))


def test_word_dropout_with_word_features_drops_the_word_only():
    rng = np.random.default_rng(6)
    spec = model_spec(dict(task="tag", vocab_size=10, num_classes=3, cell="gru", embedding_dim=3, hidden_size=3,
                           word_features=(("suffix2", 6),), word_feature_dim=2, word_dropout=0.999))
    params = init_params(spec, rng, np.float64)
    words, mask = batch(rng, V=10)
    ids = np.stack([words, np.where(mask, 4, 0)], axis=-1)
    _, cache = forward(params, spec, ids, mask, dropout_rng=np.random.default_rng(7))
    np.testing.assert_array_equal(cache.ids[..., 0], np.where(mask, 1, 0))
    np.testing.assert_array_equal(cache.ids[..., 1], ids[..., 1])  # the suffix still shows the word's form


@pytest.mark.parametrize("variational", [False, True])
def test_dropout_gradients_pass_finite_differences(variational):
    spec = model_spec(dict(task="classify", vocab_size=8, num_classes=3, cell="lstm", embedding_dim=3, hidden_size=3,
                           num_layers=2, bidirectional=True, pooling="mean", dropout=0.4, input_dropout=0.4,
                           output_dropout=0.4, word_dropout=0.3, variational=variational))
    result = check_case(spec, padded=True)
    assert result.passed, result


# ------------------------------------------------------------------------------ label smoothing


def test_label_smoothing_equals_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    z = rng.standard_normal((2, 5, 4))
    y = rng.integers(0, 4, size=(2, 5))
    mask = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=bool)
    ours, dz = losses.softmax_cross_entropy(z, y, mask, smoothing=0.1)
    zt = torch.tensor(z.reshape(-1, 4), requires_grad=True)
    theirs = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(zt, torch.tensor(np.where(mask, y, -100).reshape(-1)))
    theirs.backward()
    assert ours == pytest.approx(theirs.item(), rel=1e-12)
    np.testing.assert_allclose(dz.reshape(-1, 4), zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_smoothed_sigmoid_equals_smoothed_two_class_softmax():
    rng = np.random.default_rng(9)
    z = rng.standard_normal(6)
    y = rng.integers(0, 2, size=6)
    ours, dz = losses.bce_with_logits(z, y, smoothing=0.2)
    two = np.stack([np.zeros(6), z], axis=1)  # softmax over (0, z) gives σ(z) for class 1
    theirs, dz2 = losses.softmax_cross_entropy(two, y, smoothing=0.2)
    assert ours == pytest.approx(theirs, rel=1e-12)
    np.testing.assert_allclose(dz, dz2[:, 1], rtol=1e-10)


@pytest.mark.parametrize("task,classes", [("classify", 2), ("classify", 3), ("tag", 3), ("lm", 8)])
def test_label_smoothing_gradients_pass_finite_differences(task, classes):
    rng = np.random.default_rng(10)
    spec = model_spec(dict(task=task, vocab_size=8, num_classes=classes, cell="gru", embedding_dim=3, hidden_size=3))
    params = init_params(spec, rng, np.float64)
    ids, mask = batch(rng, V=8)
    targets = rng.integers(0, classes, size=ids.shape if spec.per_step else len(ids))
    loss, grads, _, _ = loss_and_grads(params, spec, ids, mask, targets, label_smoothing=0.1)
    assert loss != pytest.approx(loss_and_grads(params, spec, ids, mask, targets)[0])
    for name, p in params.items():
        _, numeric = numeric_grad(lambda: sequence_loss(params, spec, ids, mask, targets, label_smoothing=0.1), p)
        assert rel_error(grads[name].reshape(-1), numeric) < 1e-6, name


# ------------------------------------------------------------------ config keys, holdout, seeds


def test_regularised_training_is_deterministic_and_resumes_the_masks(workspace, cli):
    args = ["train", "--config", TOY, "--json", "--set", "model.input_dropout=0.3", "--set", "model.output_dropout=0.3",
            "--set", "model.word_dropout=0.2", "--set", "model.variational_dropout=true",
            "--set", "train.label_smoothing=0.1", "--set", "train.epochs=3"]
    first = cli(*args, "--set", "run.dir=runs/a")
    second = cli(*args, "--set", "run.dir=runs/b")
    assert first.code == 0, first.err
    losses_of = lambda r: [json.loads(line)["train_loss"] for line in r.out.splitlines()[:-1]]  # noqa: E731
    assert losses_of(first) == losses_of(second)
    spec = json.loads((workspace / "runs/a/run.json").read_text())["model"]
    assert spec["variational"] is True and spec["word_dropout"] == 0.2
    plain = cli("train", "--config", TOY, "--json", "--set", "train.epochs=3", "--set", "run.dir=runs/c")
    assert losses_of(plain) != losses_of(first)
    assert "variational" not in json.loads((workspace / "runs/c/run.json").read_text())["model"]  # old runs unchanged


@pytest.mark.parametrize("sets,key", [
    (["model.input=onehot", "model.input_dropout=0.2"], "model.input_dropout"),
    (["task=regress", "train.label_smoothing=0.1", "data.label_field=label"], "train.label_smoothing"),
    (["train.class_weights=balanced", "train.label_smoothing=0.1"], "train.label_smoothing"),
    (["train.monitor=holdout_accuracy"], "train.monitor"),
    (["data.holdout_split=0.2"], "data.holdout_split"),
    (["data.holdout_split=0.2", "train.monitor=holdout_mae"], "train.monitor"),
    (["model.input=onehot", "train.adversarial=1.0"], "train.adversarial"),
    (["task=seq2seq", "train.adversarial=1.0"], "train.adversarial"),
    (["train.adversarial=-1"], "train.adversarial"),
])
def test_config_mistakes_are_named(workspace, cli, sets, key):
    result = cli("train", "--config", TOY, *[a for s in sets for a in ("--set", s)])
    assert result.code == ExitCode.CONFIG
    assert key in result.err


def test_holdout_selection_scores_dev_once(workspace, cli):
    result = cli("train", "--config", TOY, "--json", "--set", "data.holdout_split=0.25", "--set",
                 "train.monitor=holdout_accuracy", "--set", "data.test=datasets/toy/sentiment-dev.tsv",
                 "--set", "train.epochs=4")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    epochs, done = lines[:-1], lines[-1]
    assert all("holdout_accuracy" in e and not any(k.startswith("dev_") for k in e) for e in epochs)
    assert done["dev"] is not None and set(done["dev"]) == {"loss", "accuracy"}
    saved = json.loads((workspace / "runs/sentiment-toy/results.json").read_text())
    assert saved["weights"] == "best" and saved["epoch"] == done["best"]["epoch"]
    # the dev score is the selected epoch's: rnn evaluate on the kept weights gives the same
    evaluated = cli("evaluate", "--model", "runs/sentiment-toy", "--data", "datasets/toy/sentiment-dev.tsv", "--json")
    assert json.loads(evaluated.out)["accuracy"] == pytest.approx(done["dev"]["accuracy"])
    assert saved["test"] == pytest.approx(done["test"])


def test_seeds_report_mean_and_std(workspace, cli):
    result = cli("train", "--config", TOY, "--seeds", "3", "--json", "--set", "train.epochs=2")
    assert result.code == 0, result.err
    done = json.loads(result.out.splitlines()[-1])
    assert done["seeds"] == [0, 1, 2] and len(done["runs"]) == 3
    values = [run["dev_accuracy"] for run in done["runs"]]
    summary = done["summary"]["dev_accuracy"]
    assert summary["mean"] == pytest.approx(np.mean(values)) and summary["std"] == pytest.approx(np.std(values, ddof=1))
    for seed in (0, 1, 2):
        assert (workspace / f"runs/sentiment-toy/seed-{seed}/weights.npz").is_file()
    assert json.loads((workspace / "runs/sentiment-toy/seeds.json").read_text())["summary"] == done["summary"]
    again = cli("train", "--config", TOY, "--seeds", "2")
    assert again.code == ExitCode.RUN and "--force" in again.err
    table = cli("train", "--config", TOY, "--seeds", "2", "--force", "--set", "train.epochs=1")
    assert "mean ± std" in table.out


def test_an_interrupted_seeds_run_continues_with_resume(workspace, cli):
    """Ctrl-C during the second of three seeds: rnn train --resume DIR keeps the first run, continues the second
    from its checkpoint (bit for bit) and trains the third; the results are those of an uninterrupted run."""
    import os
    import signal

    from rnncli.config import load_config
    from rnncli.errors import TrainingInterrupted
    from rnncli.training.seeds import train_seeds

    whole = cli("train", "--config", TOY, "--seeds", "3", "--json", "--set", "train.epochs=3", "--set", "run.dir=runs/a")
    assert whole.code == 0, whole.err
    expected = json.loads(whole.out.splitlines()[-1])
    seen = {}

    def stop(event, info):
        seen.update(info if event == "seed_start" else {})
        if event == "batch" and seen.get("seed") == 1 and info["epoch"] == 2 and info["batch"] == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: the step ends, a checkpoint is saved

    with pytest.raises(TrainingInterrupted) as stopped:
        train_seeds(load_config(TOY, ["train.epochs=3", "run.dir=runs/b"]), 3, progress=stop)
    assert stopped.value.hint.endswith("rnn train --resume runs/b")
    partial = json.loads((workspace / "runs/b/seeds.json").read_text())
    assert [h["seed"] for h in partial["runs"]] == [0] and partial["summary"] is None
    assert cli("train", "--config", TOY, "--set", "run.dir=runs/b", "--seeds", "3").code == ExitCode.RUN
    resumed = cli("train", "--resume", "runs/b", "--json")
    assert resumed.code == 0, resumed.err
    done = json.loads(resumed.out.splitlines()[-1])
    drop = lambda runs: [{k: v for k, v in h.items() if k != "seconds"} for h in runs]  # noqa: E731
    assert drop(done["runs"]) == drop(expected["runs"])
    assert {k: v for k, v in done["summary"].items() if k != "seconds"} == \
        {k: v for k, v in expected["summary"].items() if k != "seconds"}
    again = cli("train", "--resume", "runs/b", "--set", "train.epochs=5")
    assert again.code == ExitCode.USAGE and "holds the runs of an rnn train --seeds" in again.err
    (workspace / "runs/b/config.yaml").unlink()  # as an older rnncli left a --seeds folder
    older = cli("train", "--resume", "runs/b")
    assert older.code == ExitCode.RUN and "has seeds.json but no config.yaml" in older.err, older.err


def test_weight_average_leaves_training_alone_and_is_what_is_scored_and_saved(workspace, cli):
    """train.ema_decay: the same steps as without it, but the metrics, weights.npz and rnn evaluate are those
    of the average, which the checkpoint keeps beside the trained parameters."""
    args = ["train", "--config", TOY, "--json", "--set", "train.epochs=3"]
    plain = cli(*args, "--set", "run.dir=runs/plain")
    averaged = cli(*args, "--set", "run.dir=runs/ema", "--set", "train.ema_decay=0.9")
    assert plain.code == 0 and averaged.code == 0, averaged.err
    records = lambda r: [json.loads(line) for line in r.out.splitlines()[:-1]]  # noqa: E731
    assert [e["train_loss"] for e in records(plain)] == [e["train_loss"] for e in records(averaged)]
    assert [e["dev_accuracy"] for e in records(plain)] != [e["dev_accuracy"] for e in records(averaged)] or \
        [e["dev_loss"] for e in records(plain)] != [e["dev_loss"] for e in records(averaged)]
    load = lambda path: dict(np.load(workspace / path))  # noqa: E731
    ckpt_plain, ckpt_ema = load("runs/plain/checkpoint.npz"), load("runs/ema/checkpoint.npz")
    weights = load("runs/ema/weights.npz")
    for k in weights:
        assert np.array_equal(ckpt_plain[f"param/{k}"], ckpt_ema[f"param/{k}"])  # training itself unchanged
        assert np.array_equal(weights[k], ckpt_ema[f"average/{k}"])  # the saved weights are the average
        assert not np.array_equal(weights[k], ckpt_ema[f"param/{k}"])
    assert int(ckpt_ema["average/n"]) == records(averaged)[-1]["step"]
    evaluated = cli("evaluate", "--model", "runs/ema", "--data", "datasets/toy/sentiment-dev.tsv", "--json")
    assert json.loads(evaluated.out)["loss"] == pytest.approx(records(averaged)[-1]["dev_loss"])
    bad = cli(*args, "--set", "train.ema_decay=1.0")
    assert bad.code == ExitCode.CONFIG and "train.ema_decay" in bad.err


# ---------------------------------------------------------------------- adversarial training


def test_adversarial_perturbation_has_norm_eps_per_sequence_along_the_gradient():
    rng = np.random.default_rng(12)
    mask = np.arange(5)[None] < np.array([5, 2, 3, 4])[:, None]
    d_x = rng.standard_normal((4, 5, 3)).astype(np.float32)  # padding holds values too: they must not count
    d_x[2] = 0.0  # a sequence whose input got no gradient
    d_x[3] *= np.float32(1e-30)  # squares of these underflow float32: the norm must not
    r = layers.adversarial_perturbation(d_x, mask, 0.7)
    assert r.dtype == np.float32
    norms = np.sqrt((r.astype(np.float64) ** 2).sum(axis=(1, 2)))
    np.testing.assert_allclose(norms, [0.7, 0.7, 0.0, 0.7], rtol=1e-6)
    assert not r[~mask].any()
    for n in (0, 1, 3):  # r = ε g / ‖g‖ over the real steps: parallel to g there
        g = (d_x[n] * mask[n, :, None]).astype(np.float64)
        np.testing.assert_allclose(r[n], 0.7 * g / np.linalg.norm(g), rtol=1e-5, atol=1e-7)


def _adversarial_case(kind):
    """A model, a padded batch and targets for the adversarial gradient checks."""
    rng = np.random.default_rng(13)
    dropout = dict(input_dropout=0.3, output_dropout=0.3, word_dropout=0.3, variational=True)
    if kind == "classify":  # the embedding lookup (which adversarial training takes as features), every dropout
        spec = model_spec(dict(task="classify", vocab_size=9, num_classes=2, cell="lstm", embedding_dim=3,
                               hidden_size=3, num_layers=2, bidirectional=True, pooling="max", dropout=0.3, **dropout))
        ids, mask = batch(rng)
        return spec, ids, mask, rng.integers(0, 2, size=len(ids))
    if kind == "tag":  # word, suffix and character features side by side
        spec = replace(char_spec("gru"), word_features=(("suffix3", 5), ("chars6", 9)), word_feature_dim=2, **dropout)
        ids, mask = batch(rng, V=10)
        chars = np.where(mask[..., None], rng.integers(0, 9, size=mask.shape + (6,)), 0)
        ids = np.concatenate([ids[..., None], np.where(mask, rng.integers(2, 5, size=mask.shape), 0)[..., None], chars],
                             axis=-1)
        return spec, ids, mask, rng.integers(0, 4, size=mask.shape)
    spec = model_spec(dict(task="regress", input="features", feature_dim=2, vocab_size=2, num_classes=1, cell="rnn",
                           hidden_size=3, input_dropout=0.3, variational=True))
    _, mask = batch(rng)
    return spec, rng.standard_normal(mask.shape + (2,)) * mask[..., None], mask, rng.standard_normal(len(mask))


@pytest.mark.parametrize("kind", ["classify", "tag", "regress"])
def test_adversarial_gradients_pass_finite_differences(kind):
    """train.adversarial: the gradients are those of L(x) + L(x + r), with r = ε g/‖g‖ from the first pass held
    constant and the second pass under the same dropout masks (and word dropout) as the first."""
    from rnncli.models.sequence import backward_with_input, head_backward, loss_from_logits

    spec, ids, mask, targets = _adversarial_case(kind)
    params = init_params(spec, np.random.default_rng(14), np.float64)
    eps, masks = 0.5, lambda: np.random.default_rng(15)  # noqa: E731 - the same draws at every call

    def objective_at(r):
        logits, cache = forward(params, spec, ids, mask, dropout_rng=masks(), perturb=r)
        return loss_from_logits(logits, targets, spec, mask)[0], logits, cache

    loss, grads, _, _ = loss_and_grads(params, spec, ids, mask, targets, dropout_rng=masks(), adversarial=eps)
    clean, logits, cache = objective_at(0.0)
    d_logits = loss_from_logits(logits, targets, spec, mask)[1]
    r = layers.adversarial_perturbation(backward_with_input(head_backward(d_logits, cache, params, spec), cache,
                                                            params, spec)[1], mask, eps)
    assert loss == pytest.approx(clean, rel=1e-12)  # the loss reported is the clean input's
    assert loss == pytest.approx(loss_and_grads(params, spec, ids, mask, targets, dropout_rng=masks())[0], rel=1e-12)
    small = layers.adversarial_perturbation(r, mask, 1e-3)  # to first order, r raises the loss
    assert objective_at(small)[0] > clean
    objective = lambda: objective_at(0.0)[0] + objective_at(r)[0]  # noqa: E731
    for name, p in params.items():
        _, numeric = numeric_grad(objective, p, h=1e-5)  # some of these gradients are ~1e-5: keep rounding small
        assert rel_error(grads[name].reshape(-1), numeric) < 1e-6, name


def test_gradcheck_checks_the_config_s_adversarial_objective(workspace, cli):
    result = cli("gradcheck", "--config", TOY, "--json", "--set", "train.adversarial=1.0",
                 "--set", "model.input_dropout=0.3", "--set", "model.variational_dropout=true")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["passed"] and len(report["cases"]) == 2
    assert all(case["case"].endswith("adversarial-1") for case in report["cases"])


def test_adversarial_training_from_the_cli(workspace, cli):
    args = ["train", "--config", TOY, "--json", "--set", "train.epochs=3", "--set", "model.input_dropout=0.3"]
    losses_of = lambda r: [json.loads(line)["train_loss"] for line in r.out.splitlines()[:-1]]  # noqa: E731
    first = cli(*args, "--set", "train.adversarial=1.0", "--set", "run.dir=runs/a")
    second = cli(*args, "--set", "train.adversarial=1.0", "--set", "run.dir=runs/b")
    plain = cli(*args, "--set", "run.dir=runs/c")
    assert first.code == 0 and plain.code == 0, first.err
    assert losses_of(first) == losses_of(second)  # deterministic: the second pass replays the masks
    assert losses_of(first) != losses_of(plain)


# ------------------------------------------------------------------------- character encoder


def char_spec(cell="lstm"):
    return model_spec(dict(task="tag", vocab_size=10, num_classes=4, cell=cell, embedding_dim=3, hidden_size=4,
                           bidirectional=True, word_features=(("chars6", 9),), char_embedding_dim=3,
                           char_hidden_size=2))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padded_batch_of_words_equals_each_word_alone(cell):
    from rnncli.models import chars

    spec = char_spec(cell)
    params = init_params(spec, np.random.default_rng(11), np.float64)
    words = [[3, 4, 5, 6, 2, 7], [8], [2, 2, 3]]  # characters of three words of a two-sentence batch
    ids = np.zeros((2, 3, 6), dtype=np.int64)
    for (n, t), w in zip([(0, 0), (0, 1), (1, 0)], words):
        ids[n, t, : len(w)] = w
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)
    R, _ = chars.forward(params, spec, ids, mask)
    assert (R[~mask] == 0).all()
    for (n, t), w in zip([(0, 0), (0, 1), (1, 0)], words):
        alone, _ = chars.forward(params, spec, np.array(w)[None, None, :], np.ones((1, 1), dtype=bool))
        np.testing.assert_allclose(R[n, t], alone[0, 0], rtol=1e-12, atol=1e-14)


def test_character_gradients_pass_finite_differences():
    result = check_case(replace(char_spec("lstm"), word_dropout=0.3, input_dropout=0.2, variational=True), padded=True)
    assert result.passed, result


def test_chars_feature_encodes_each_word_and_cuts_long_ones():
    from rnncli.data.subwords import WordFeatures, word_chars

    assert word_chars("internationalisation", 6) == "intion"
    features = WordFeatures.build(["suffix2", "chars6"], [["The", "cat"], ["sat"]])
    ids = features.encode(["The", "internationally", "x"])
    assert ids.shape == (3, 1 + 6)  # the suffix, then up to 6 characters
    chars = features.vocabs["chars6"]
    assert list(ids[0, 1:4]) == chars.encode("The") and (ids[0, 4:] == 0).all()
    assert (ids[2, 1:] == [1, 0, 0, 0, 0, 0]).all()  # an unseen character is <unk>
    assert features.chars == 6 and WordFeatures.from_dict(features.to_dict()) == features


def test_character_tagger_trains_predicts_and_reloads(workspace, cli):
    result = cli("train", "--config", "configs/tagging-toy.yaml", "--json", "--set", "model.char_hidden_size=8",
                 "--set", "model.char_embedding_dim=6", "--set", "train.epochs=3", "--set", "data.lowercase=false")
    assert result.code == 0, result.err
    meta = json.loads((workspace / "runs/tagging-toy/run.json").read_text())["model"]
    assert meta["char_hidden_size"] == 8 and meta["word_features"][0][0] == "chars20"
    predicted = cli("predict", "--model", "runs/tagging-toy", "--json", "the Zyxwv runs")
    assert predicted.code == 0, predicted.err
    assert len(json.loads(predicted.out)["tags"]) == 3
    wrong = cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "task=lm", "--set",
                "model.char_hidden_size=8", "--set", "run.dir=runs/x")
    assert wrong.code == ExitCode.CONFIG and "model.char_hidden_size" in wrong.err


def test_sweep_ranks_on_the_set_the_config_selects_on(workspace, cli):
    base = (workspace / "configs/sentiment-toy.yaml").read_text()
    (workspace / "holdout.yaml").write_text(base.replace("\ntrain:", "\ntrain:\n  monitor: holdout_accuracy", 1)
                                            .replace("\ndata:", "\ndata:\n  holdout_split: 0.2", 1))
    (workspace / "s.yaml").write_text("base: holdout.yaml\nmetric: dev_accuracy\nmode: max\nspace:\n  train.lr: [0.01]\n")
    result = cli("sweep", "--config", "s.yaml")
    assert result.code == ExitCode.CONFIG and "holdout_accuracy" in result.err
    (workspace / "s.yaml").write_text("base: holdout.yaml\nmetric: holdout_accuracy\nmode: max\nmax_concurrent: 1\n"
                                      "space:\n  train.epochs: [2]\n")
    result = cli("sweep", "--config", "s.yaml", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out.splitlines()[0])["status"] == "done"


def test_container_holdout_keeps_held_out_sentences_apart():
    from rnncli.data.overlap import containers, split_by_container
    from rnncli.data.readers import Example

    texts = ["a good movie", "good movie", "good", "a bad film", "bad film", "film", "the plot", "plot",
             "a good plot"]
    maximal, inside = containers(texts)
    assert [texts[i] for i in maximal] == ["a good movie", "a bad film", "the plot", "a good plot"]
    assert sorted(texts[m] for m in inside[texts.index("good")]) == ["a good movie", "a good plot"]
    raw = [Example(t, "1") for t in texts]
    train, holdout, dropped = split_by_container(raw, 0.5)  # the last two sentences
    assert [e.text for e in holdout] == ["the plot", "a good plot"]
    # "plot" occurs only inside held-out sentences: dropped; "good" also in a kept one: kept
    assert [e.text for e in train] == ["a good movie", "good movie", "good", "a bad film", "bad film", "film"]
    assert dropped == 1
    assert split_by_container(raw, 0.5, text=lambda e: e.text)[0] == train


def test_container_holdout_from_the_cli(workspace, cli):
    result = cli("train", "--config", TOY, "--set", "data.holdout_split=0.2", "--set", "data.holdout_by=container",
                 "--set", "train.monitor=holdout_loss", "--set", "train.epochs=2")
    assert result.code == 0, result.err
    assert "holding out" in result.err and "(data.holdout_split)" in result.err
    wrong = cli("train", "--config", "configs/tagging-toy.yaml", "--set", "data.holdout_split=0.2",
                "--set", "data.holdout_by=container", "--set", "train.monitor=holdout_loss")
    assert wrong.code == ExitCode.CONFIG and "data.holdout_by" in wrong.err


def test_runs_and_the_latest_run_include_the_seeds(workspace, cli):
    assert cli("train", "--config", TOY, "--seeds", "2", "--set", "train.epochs=1").code == 0
    listed = json.loads(cli("runs", "--json").out)
    assert sorted(r["path"] for r in listed) == ["runs/sentiment-toy/seed-0", "runs/sentiment-toy/seed-1"]
    predicted = cli("predict", "--json", "movie was good")  # no --model: the newest run, seed 1
    assert predicted.code == 0, predicted.err
