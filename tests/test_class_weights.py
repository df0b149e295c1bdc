"""train.class_weights: weighted losses equal PyTorch's, their gradients pass finite differences, and the
config's weights come out as documented."""

from __future__ import annotations

import numpy as np
import pytest

from rnncli.config import load_config
from rnncli.engine import losses
from rnncli.engine.gradcheck import numeric_grad, rel_error
from rnncli.errors import ExitCode
from rnncli.models import init_params, loss_and_grads
from rnncli.models.sequence import loss as sequence_loss
from rnncli.tasks import model_spec
from rnncli.training.prepare import prepare

WEIGHTS = np.array([0.5, 2.0, 1.25])


@pytest.mark.parametrize("task,classes", [("classify", 3), ("classify", 2), ("tag", 3)])
def test_weighted_gradients_pass_finite_differences(task, classes):
    rng = np.random.default_rng(0)
    spec = model_spec(dict(task=task, vocab_size=8, num_classes=classes, cell="gru", embedding_dim=3, hidden_size=3,
                           bidirectional=True))
    params = init_params(spec, rng, np.float64)
    lengths = np.array([5, 2, 4])
    ids = np.where(np.arange(5)[None] < lengths[:, None], rng.integers(2, 8, size=(3, 5)), 0)
    mask = ids > 0
    targets = rng.integers(0, classes, size=(3, 5) if task == "tag" else 3) * (mask if task == "tag" else 1)
    w = WEIGHTS[:classes]
    loss, grads, _, _ = loss_and_grads(params, spec, ids, mask, targets, class_weights=w)
    assert loss == pytest.approx(sequence_loss(params, spec, ids, mask, targets, class_weights=w), rel=1e-12)
    plain = loss_and_grads(params, spec, ids, mask, targets)[0]
    assert abs(loss - plain) > 1e-6  # the weights change the loss
    for name, p in params.items():
        _, numeric = numeric_grad(lambda: sequence_loss(params, spec, ids, mask, targets, class_weights=w), p)
        assert rel_error(grads[name].reshape(-1), numeric) < 1e-6, name


def test_weighted_losses_equal_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 3))
    y = rng.integers(0, 3, size=6)
    ours, dz = losses.softmax_cross_entropy(z, y, WEIGHTS[y])
    zt = torch.tensor(z, requires_grad=True)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(WEIGHTS))(zt, torch.tensor(y))
    theirs.backward()
    assert ours == pytest.approx(theirs.item(), rel=1e-12)
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-10, atol=1e-14)
    # per token, padding left out: CrossEntropyLoss(weight=, ignore_index=-100) over (N·T, C)
    z3 = rng.standard_normal((2, 4, 3))
    y3 = rng.integers(0, 3, size=(2, 4))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    ours, _ = losses.softmax_cross_entropy(z3, y3, WEIGHTS[y3] * mask)
    ignored = torch.tensor(np.where(mask, y3, -100))
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(WEIGHTS))(torch.tensor(z3).reshape(-1, 3), ignored.reshape(-1))
    assert ours == pytest.approx(theirs.item(), rel=1e-12)
    # one sigmoid output: pos_weight
    z1 = rng.standard_normal(7)
    y1 = rng.integers(0, 2, size=7)
    ours, dz1 = losses.bce_with_logits(z1, y1, pos_weight=3.5)
    zt1 = torch.tensor(z1, requires_grad=True)
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(3.5, dtype=torch.float64))(zt1, torch.tensor(y1, dtype=torch.float64))
    theirs.backward()
    assert ours == pytest.approx(theirs.item(), rel=1e-12)
    np.testing.assert_allclose(dz1, zt1.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_balanced_and_given_weights(workspace):
    rows = (workspace / "datasets/toy/sentiment.tsv").read_text().splitlines()
    negatives = [r for r in rows[1:] if r.endswith("\t0")][:10]
    (workspace / "imbalanced.tsv").write_text("\n".join(rows[:1] + [r for r in rows[1:] if r.endswith("\t1")] + negatives) + "\n")
    cfg = load_config("configs/sentiment-toy.yaml", ["data.train=imbalanced.tsv", "train.class_weights=balanced"])
    prepared = prepare(cfg)
    assert prepared.labels.to_dict()["labels"] == ["0", "1"]
    np.testing.assert_allclose(prepared.class_weights, [100 / (2 * 10), 100 / (2 * 90)])
    cfg = load_config("configs/sentiment-toy.yaml", ["train.class_weights={0: 4}"])
    np.testing.assert_allclose(prepare(cfg).class_weights, [4.0, 1.0])


def test_tagging_weights_count_tokens(workspace):
    cfg = load_config("configs/tagging-toy.yaml", ["train.class_weights=balanced"])
    prepared = prepare(cfg)
    flat = np.concatenate([np.ravel(t) for t in prepared.train.targets])
    counts = np.bincount(flat, minlength=len(prepared.class_weights))
    np.testing.assert_allclose(prepared.class_weights * counts, len(flat) / len(counts))


@pytest.mark.parametrize("value,code,needle", [
    ("{pos: 2}", ExitCode.CONFIG, "train.class_weights names 'pos', which the training data does not have"),
    ("{0: -1}", ExitCode.CONFIG, "must be one of 'balanced' or a mapping of label: weight (positive numbers)"),
    ("heavy", ExitCode.CONFIG, "must be one of 'balanced'"),
])
def test_bad_weights(cli, workspace, value, code, needle):
    r = cli("train", "--config", "configs/sentiment-toy.yaml", "--set", f"train.class_weights={value}",
            "--set", "run.dir=runs/w")
    assert r.code == code and needle in r.err and "Traceback" not in r.err
    assert not (workspace / "runs/w").exists()


def test_only_for_label_losses(cli, workspace):
    r = cli("config", "show", "configs/char-lm-toy.yaml", "--set", "train.class_weights=balanced")
    assert r.code == ExitCode.CONFIG and "applies to task classify or tag only; task is 'lm'" in r.err


def test_weights_change_training_and_balanced_helps_the_rare_label(cli, workspace):
    rows = (workspace / "datasets/toy/sentiment.tsv").read_text().splitlines()
    negatives = [r for r in rows[1:] if r.endswith("\t0")][::9]
    (workspace / "imbalanced.tsv").write_text("\n".join(rows[:1] + [r for r in rows[1:] if r.endswith("\t1")] + negatives) + "\n")
    recall = {}
    for weights in ("null", "balanced"):
        assert cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "data.train=imbalanced.tsv",
                   "--set", "train.epochs=10", "--set", f"train.class_weights={weights}",
                   "--set", f"run.dir=runs/{weights}", "-q").code == 0
        r = cli("evaluate", "--model", f"runs/{weights}", "--data", "datasets/toy/sentiment-dev.tsv", "--json")
        recall[weights] = r.json()["per_class"][0]["recall"]
    assert recall["balanced"] > recall["null"]
