"""Parity with PyTorch: exported weights loaded into nn.RNN/LSTM/GRU give our logits, loss and gradients.

Skipped when PyTorch is not installed (``pip install -e '.[torch]'``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import rnncli.tools.export  # noqa: E402
from rnncli.tools.export import torch_names, torch_state_dict  # noqa: E402
from rnncli.models import ModelSpec, init_params, loss_and_grads  # noqa: E402
from rnncli.tasks import model_spec  # noqa: E402
from rnncli.models.sequence import forward, probabilities

REPO = Path(__file__).resolve().parent.parent
CELL_VARIANTS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
LENGTHS = [5, 3, 1]  # right-padded, deliberately not sorted by length in every case below
V, D, H = 11, 4, 3


class Reference(nn.Module):
    """The oracle: PyTorch's own layers, fed a packed batch; h_n of the top layer → head."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        if spec.input == "embedding":
            self.embedding = nn.Embedding(spec.vocab_size, spec.embedding_dim)
        kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[spec.cell]
        extra = {"nonlinearity": spec.activation} if spec.cell == "rnn" else {}
        self.rnn = kind(spec.stack.input_size, spec.hidden_size, num_layers=spec.num_layers, batch_first=True,
                        bidirectional=spec.bidirectional, **extra)
        self.head = nn.Linear(spec.stack.output_size, spec.num_outputs)

    def forward(self, ids, lengths):
        if self.spec.input == "onehot":  # width V-2: column j is token id j+2; <pad>, <unk> → zeros
            x = nn.functional.one_hot(ids, self.spec.vocab_size)[..., 2:].to(self.head.weight.dtype)
        else:
            x = self.embedding(ids)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(packed)
        if isinstance(h_n, tuple):
            h_n = h_n[0]
        dirs = self.spec.stack.directions
        return self.head(torch.cat(list(h_n[-dirs:]), dim=1))



def torch_loss(spec: ModelSpec, logits, targets, mask):
    """PyTorch's loss for each task, as rnncli.models.sequence.loss_from_logits defines it."""
    if spec.per_step:  # tag, lm: cross-entropy over real tokens only
        real = torch.from_numpy(mask)
        return nn.functional.cross_entropy(logits[real], targets[real])
    if spec.task == "regress":
        return nn.functional.mse_loss(logits[:, 0], targets)
    if spec.num_outputs == 1:
        return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets.to(logits.dtype))
    return nn.functional.cross_entropy(logits, targets)


def _batch(spec: ModelSpec, rng, lengths):
    T = max(lengths)
    ids = rng.integers(1, spec.vocab_size, size=(len(lengths), T))  # includes <unk> = 1
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    ids[~mask] = 0
    if spec.task == "regress":
        targets = rng.standard_normal(len(lengths))
    elif spec.per_step:
        targets = rng.integers(0, spec.num_classes, size=(len(lengths), T))
    else:
        targets = rng.integers(0, spec.num_classes, size=len(lengths))
    return ids, mask, targets


def _load(module: nn.Module, state: dict[str, np.ndarray]) -> None:
    assert list(state) == list(module.state_dict())  # same names, same order
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


def _check_parity(spec: ModelSpec, seed: int, lengths=LENGTHS, module: nn.Module | None = None):
    """Our logits, loss and every gradient against PyTorch's (the Reference module unless given)."""
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, np.float64)
    for name in params:  # nonzero biases everywhere, so a dropped or misplaced bias shows
        if ".b" in name or name == "head.b":
            params[name] = rng.uniform(-0.5, 0.5, size=params[name].shape)
    ids, mask, targets = _batch(spec, rng, lengths)
    loss, grads, logits, *_ = loss_and_grads(params, spec, ids, mask, targets)

    module = (Reference(spec) if module is None else module).double()
    _load(module, torch_state_dict(params, spec))
    t_logits = module(torch.from_numpy(ids), torch.tensor(lengths))
    t_loss = torch_loss(spec, t_logits, torch.from_numpy(targets), mask)
    t_loss.backward()
    t_grads = {k: p.grad.numpy() for k, p in module.named_parameters()}

    np.testing.assert_allclose(logits, t_logits.detach().numpy(), rtol=0, atol=1e-10)
    assert abs(loss - t_loss.item()) < 1e-10
    assert set(t_grads) == {t for name in grads for t in torch_names(name)}
    for name, g in grads.items():
        first, *rest = torch_names(name)
        assert _rel_err(g, t_grads[first]) < 1e-8, (name, _rel_err(g, t_grads[first]))
        for other in rest:  # our single b: its gradient is both bias_ih's and bias_hh's
            assert _rel_err(t_grads[other], t_grads[first]) < 1e-12
            assert _rel_err(g, t_grads[other]) < 1e-8, (name, other)
    return grads


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("num_classes", [2, 3])
def test_parity_embedding(cell, act, bidirectional, num_layers, num_classes):
    spec = ModelSpec(vocab_size=V, num_classes=num_classes, cell=cell, activation=act, input="embedding",
                     embedding_dim=D, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional)
    grads = _check_parity(spec, seed=num_layers * 10 + num_classes)
    assert np.abs(grads["embedding.weight"]).max() > 0  # the comparison was not vacuous


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_parity_onehot(cell, act, bidirectional, num_layers):
    spec = ModelSpec(vocab_size=V, num_classes=3, cell=cell, activation=act, input="onehot",
                     hidden_size=H, num_layers=num_layers, bidirectional=bidirectional)
    _check_parity(spec, seed=7 + num_layers)


@pytest.mark.parametrize("lengths", [[1, 1, 1], [1], [2, 6, 4, 6]], ids=["all-1", "N=1", "ties"])
def test_parity_degenerate_batches(lengths):
    spec = ModelSpec(vocab_size=V, num_classes=2, cell="lstm", embedding_dim=D, hidden_size=1,
                     num_layers=2, bidirectional=True)
    _check_parity(spec, seed=3, lengths=lengths)


# ------------------------------------------------- the docstring's class and the exported file


def _docstring_class():
    """Execute the PyTorch module class printed in rnncli.tools.export's docstring, so the docs stay true."""
    doc = rnncli.tools.export.__doc__
    block = re.search(r"::\n\n(.*?)\n\n(?=\S)", doc, re.S).group(1)
    lines = block.splitlines()
    indent = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
    namespace: dict = {}
    exec("\n".join(x[indent:] for x in lines), namespace)  # noqa: S102 - our own docstring
    return namespace["RnncliModel"]


def _docstring_module(spec: ModelSpec) -> nn.Module:
    RnncliModel = _docstring_class()
    return RnncliModel(spec.vocab_size, spec.embedding_dim, spec.hidden_size, spec.num_outputs, cell=spec.cell,
                       nonlinearity=spec.activation, num_layers=spec.num_layers, bidirectional=spec.bidirectional,
                       dropout=spec.dropout, onehot=spec.input == "onehot", pooling=spec.pooling,
                       per_step=spec.per_step)


DOC_CASES = [  # (cell, activation, input, bidirectional, task, num_classes, pooling)
    ("gru", "tanh", "embedding", True, "classify", 2, "last"),
    ("rnn", "relu", "onehot", False, "classify", 3, "last"),
    ("lstm", "tanh", "onehot", True, "classify", 2, "mean"),
    ("gru", "tanh", "embedding", True, "classify", 3, "max"),
    ("lstm", "tanh", "embedding", True, "classify", 2, "concat"),
    ("rnn", "relu", "onehot", False, "classify", 3, "concat"),
    ("rnn", "tanh", "embedding", True, "regress", 1, "mean"),
    ("lstm", "tanh", "embedding", True, "tag", 4, "last"),
    ("gru", "tanh", "onehot", False, "lm", V, "last"),
]


@pytest.mark.parametrize("cell,act,input_,bidirectional,task,num_classes,pooling", DOC_CASES,
                         ids=lambda v: str(v))
def test_docstring_module_matches(cell, act, input_, bidirectional, task, num_classes, pooling):
    """The class printed in rnncli.tools.export's docstring: logits, loss and gradients, for every task and pooling."""
    spec = model_spec(dict(vocab_size=V, num_classes=num_classes, task=task, cell=cell, activation=act, input=input_,
                     embedding_dim=D, hidden_size=H, num_layers=2, bidirectional=bidirectional, dropout=0.3,
                     pooling=pooling))
    module = _docstring_module(spec)
    module.eval()  # dropout is training-only on both sides
    _check_parity(spec, seed=5, module=module)


def test_exported_file_loads_into_pytorch(tmp_path):
    """End to end: train with the CLI, export, load the .npz as the README shows, same probabilities."""
    from rnncli.rundir import load_run
    from rnncli.cli import main

    run_dir, out = tmp_path / "run", tmp_path / "model.npz"
    assert main(["train", "-q", "--config", str(REPO / "configs/sentiment-toy.yaml"), "--set", f"run.dir={run_dir}",
                 "--set", "train.epochs=2", "--set", f"data.train={REPO / 'datasets/toy/sentiment.tsv'}",
                 "--set", f"data.dev={REPO / 'datasets/toy/sentiment-dev.tsv'}"]) == 0
    assert main(["export", str(run_dir), "--format", "torch", "--out", str(out), "--json"]) == 0
    run = load_run(run_dir)

    model = _docstring_module(run.spec)  # float32, as trained
    with np.load(out, allow_pickle=False) as npz:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in npz.items()}, strict=True)
    model.eval()

    ids, mask, _ = _batch(run.spec, np.random.default_rng(0), LENGTHS)
    with torch.no_grad():
        t_logits = model(torch.from_numpy(ids), torch.tensor(LENGTHS)).numpy()
    logits, _ = forward(run.params, run.spec, ids, mask)
    assert logits.dtype == t_logits.dtype == np.float32
    np.testing.assert_allclose(probabilities(logits, run.spec), probabilities(t_logits, run.spec), atol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_parameter_count_is_pytorchs_less_the_redundant_bias(cell, bidirectional, num_layers):
    """`rnn summary` totals: PyTorch's numel, minus bias_hh for RNN/LSTM (one bias kept; GRU keeps both)."""
    spec = ModelSpec(vocab_size=11, num_classes=3, cell=cell, embedding_dim=5, hidden_size=4,
                     num_layers=num_layers, bidirectional=bidirectional)
    module = _docstring_module(spec)
    torch_total = sum(p.numel() for p in module.parameters())
    redundant = 0 if cell == "gru" else sum(p.numel() for n, p in module.named_parameters() if "bias_hh" in n)
    ours = sum(int(np.prod(s)) for s in spec.param_shapes().values())
    assert ours == torch_total - redundant
