"""rnn jacobian: the per-step state Jacobians, their products' singular values and the Lyapunov spectrum."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnncli.engine import jacobian as jac
from rnncli.engine.cells import get_cell
from rnncli.errors import ExitCode
from rnncli.models import init_params
from rnncli.tasks import Batch, model_spec
from rnncli.tools.jacobian import measure

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


def _step(cell, a, state, W_hh, b_hh):
    new, cache = cell.step_forward(a, tuple(s.copy() for s in state), np.ascontiguousarray(W_hh.T), b_hh)
    return new, cache


@pytest.mark.parametrize("cell_name,act", CELLS)
def test_the_state_jacobian_equals_finite_differences_of_the_step(cell_name, act):
    rng = np.random.default_rng(0)
    cell = get_cell(cell_name, act)
    N, H = 3, 4
    W_hh = rng.standard_normal((cell.gates * H, H)) * 0.6
    b_hh = rng.standard_normal(cell.gates * H) * 0.3 if cell.hidden_bias else None
    a = rng.standard_normal((N, cell.gates * H))
    state = tuple(rng.standard_normal((N, H)) * 0.5 for _ in range(cell.state_size))
    _, cache = _step(cell, a, state, W_hh, b_hh)
    J = jac.state_jacobian(cell, cache, W_hh)
    S = cell.state_size * H
    assert J.shape == (N, S, S)
    flat = np.concatenate(state, axis=1)
    eps = 1e-6
    numeric = np.zeros_like(J)
    for j in range(S):
        step = np.zeros(S)
        step[j] = eps
        plus, _ = _step(cell, a, np.split(flat + step, cell.state_size, axis=1), W_hh, b_hh)
        minus, _ = _step(cell, a, np.split(flat - step, cell.state_size, axis=1), W_hh, b_hh)
        numeric[:, :, j] = (np.concatenate(plus, axis=1) - np.concatenate(minus, axis=1)) / (2 * eps)
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("cell_name,act", CELLS)
def test_the_jacobian_matches_pytorch_autograd(cell_name, act):
    """J_t of our step equals torch.autograd.functional.jacobian of PyTorch's cell with the same weights."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    cell = get_cell(cell_name, act)
    H, D = 3, 2
    W_ih = rng.standard_normal((cell.gates * H, D)) * 0.5
    W_hh = rng.standard_normal((cell.gates * H, H)) * 0.5
    b_ih, b_hh = rng.standard_normal(cell.gates * H) * 0.2, rng.standard_normal(cell.gates * H) * 0.2
    x = rng.standard_normal((1, D))
    state = tuple(rng.standard_normal((1, H)) * 0.5 for _ in range(cell.state_size))
    # the engine folds b_hh into the hoisted projection for RNN and LSTM; the GRU keeps it apart
    a = x @ W_ih.T + b_ih + (0 if cell.hidden_bias else b_hh)
    _, cache = _step(cell, a, state, W_hh, b_hh if cell.hidden_bias else None)
    ours = jac.state_jacobian(cell, cache, W_hh)[0]
    T = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    module = {"rnn": lambda: torch.nn.RNNCell(D, H, nonlinearity=act), "lstm": lambda: torch.nn.LSTMCell(D, H),
              "gru": lambda: torch.nn.GRUCell(D, H)}[cell_name]().double()
    with torch.no_grad():
        module.weight_ih.copy_(T(W_ih))
        module.weight_hh.copy_(T(W_hh))
        module.bias_ih.copy_(T(b_ih))
        module.bias_hh.copy_(T(b_hh))
    xt = T(x)
    if cell.state_size == 2:
        def f(s):
            h, c = module(xt, (s[:H][None], s[H:][None]))
            return torch.cat([h[0], c[0]])
    else:
        def f(s):
            return module(xt, s[None])[0]
    theirs = torch.autograd.functional.jacobian(f, T(np.concatenate(state, axis=1)[0])).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_spectral_norm_equals_the_largest_singular_value():
    rng = np.random.default_rng(2)
    for S in (1, 5, 40, 90):
        J = rng.standard_normal((3, S, S))
        norms, v = jac.spectral_norm(J)
        np.testing.assert_allclose(norms, np.linalg.svd(J, compute_uv=False)[:, 0], rtol=1e-9)
        again, _ = jac.spectral_norm(J + 1e-3 * rng.standard_normal(J.shape), v)  # warm start
        assert again.shape == (3,)
    diagonal = np.stack([np.diag((rng.random(64) > 0.5).astype(float)) for _ in range(2)])  # an exhausted Krylov space
    np.testing.assert_allclose(jac.spectral_norm(diagonal)[0], [1.0, 1.0])
    assert np.all(jac.spectral_norm(np.zeros((2, 4, 4)))[0] == 0)


def test_the_product_spectrum_is_the_svd_of_the_product():
    rng = np.random.default_rng(3)
    Js = [rng.standard_normal((2, 5, 5)) * 0.4 for _ in range(12)]
    product = jac.ProductSpectrum(2, 5, spans=(1, 5, 12), k=3)
    for J in Js:
        product.update(J, np.array([True, True]))
    P = np.eye(5)[None].repeat(2, 0)
    for t, J in enumerate(Js, 1):
        P = J @ P
        if t in (1, 5, 12):
            expected = np.log(np.linalg.svd(P, compute_uv=False)[:, :3])
            np.testing.assert_allclose(np.array(product.found[t]), expected, rtol=1e-10)


def _linear_rnn(W_hh: np.ndarray, T: int):
    """A tanh RNN whose input, biases and start state are 0: h stays 0, so J_t = W_hh at every step."""
    H = W_hh.shape[0]
    spec = model_spec(dict(vocab_size=2, num_classes=1, task="regress", input="features", feature_dim=1, hidden_size=H))
    params = init_params(spec, np.random.default_rng(0), np.float64)
    params = {k: np.zeros_like(v) for k, v in params.items()}
    params["rnn.l0.W_hh"] = W_hh
    batch = Batch(np.zeros((2, T, 1)), np.ones((2, T), dtype=bool), np.zeros(2))
    return params, spec, [batch]


def test_a_linear_rnn_has_the_log_moduli_of_its_eigenvalues_as_exponents():
    rng = np.random.default_rng(4)
    H = 6
    Q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    W = Q @ np.diag([0.95, -0.8, 0.6, 0.5, -0.3, 0.1]) @ np.linalg.inv(Q) @ np.eye(H)
    W = W + 0.05 * np.triu(rng.standard_normal((H, H)), 1)  # not normal: ‖W‖₂ exceeds every |eig|
    report = measure(*_linear_rnn(W, 6000), top=4)  # the estimate converges as 1/T
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(W))))[::-1][:4]
    np.testing.assert_allclose(report.lyapunov, expected, atol=1e-3)
    assert all(std < 1e-12 for std in report.lyapunov_std)  # both sequences are the same
    np.testing.assert_allclose(report.jacobian_norms, np.linalg.norm(W, 2), rtol=1e-8)


def test_an_orthogonal_recurrence_neither_shrinks_nor_grows():
    Q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((8, 8)))
    report = measure(*_linear_rnn(Q, 300), top=8)
    np.testing.assert_allclose(report.lyapunov, 0.0, atol=1e-9)
    np.testing.assert_allclose(report.log_singular_values, 0.0, atol=1e-9)
    assert report.verdict == "stable"


@pytest.mark.parametrize("cell_name,act", CELLS)
def test_padding_changes_nothing(cell_name, act):
    """Each sequence of a padded batch gets the exponents and norms it gets alone, both directions."""
    rng = np.random.default_rng(6)
    spec = model_spec(dict(vocab_size=9, num_classes=2, cell=cell_name, activation=act, embedding_dim=3,
                           hidden_size=4, bidirectional=True, num_layers=2))
    params = init_params(spec, rng, np.float64)
    lengths = [7, 3, 5]
    ids = np.zeros((3, 7), dtype=np.int64)
    for n, L in enumerate(lengths):
        ids[n, :L] = rng.integers(2, 9, size=L)
    mask = ids > 0
    for layer, direction in ((0, 0), (1, 1)):
        together = measure(params, spec, [Batch(ids, mask, np.zeros(3, dtype=np.int64))], layer, direction, top=3)
        for n, L in enumerate(lengths):
            alone = measure(params, spec, [Batch(ids[n : n + 1, :L], mask[n : n + 1, :L], np.zeros(1, dtype=np.int64))],
                            layer, direction, top=3)
            np.testing.assert_allclose(together.lyapunov_examples[n], alone.lyapunov_examples[0], rtol=1e-9, atol=1e-12)
        assert len(together.jacobian_norms) == 7


def test_lambda_1_predicts_the_gradient_decay_that_grad_norms_measures(cli, workspace):
    """The tanh RNN of the adding problem at initialisation: λ_1 and the slope of log ‖∂L/∂h_t‖ agree."""
    assert cli("data", "make", "adding", "--length", "60", "--n", "64", "--out", "data/adding.tsv").code == 0
    config = workspace / "adding.yaml"
    config.write_text("task: regress\ndata: {train: data/adding.tsv, format: features}\n"
                      "model: {input: features, hidden_size: 16}\ntrain: {batch_size: 32, seed: 0}\n")
    r = cli("jacobian", "--config", str(config), "--json", "--batches", "2")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["examples"] == 64 and out["steps"] == 60 and out["state_size"] == 16
    assert len(out["lyapunov"]) == 4 and out["lyapunov"] == sorted(out["lyapunov"], reverse=True)
    assert len(out["jacobian_norms"]) == 60
    assert out["lyapunov"][0] < -0.1 and out["verdict"] == "vanishing"
    assert abs(out["lyapunov"][0] - out["grad_norm_slope"]) < 0.05
    assert out["spans"] == [1, 2, 5, 10, 20, 50]


def test_the_command_reads_every_layer_and_direction_and_writes_csv(cli, workspace, tmp_path):
    csv_path = tmp_path / "norms.csv"
    r = cli("jacobian", "--config", "configs/sentiment-toy-bigru.yaml", "--layer", "0", "--direction", "bwd",
            "--csv", str(csv_path))
    assert r.code == 0, r.err
    assert "layer 0, reverse direction, state h" in r.out and "λ_i (nats/step)" in r.out
    assert "predicted gradient decay" in r.out and "measured by rnn grad-norms" in r.out
    assert csv_path.read_text().splitlines()[0] == "t,layer,direction,jacobian_norm"


def test_an_lstm_state_is_h_and_c(cli, workspace):
    r = cli("jacobian", "--config", "configs/sentiment-toy-lstm.yaml", "--json", "--top", "2")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["state"] == "(h, c)" and out["state_size"] == 2 * 16  # configs/sentiment-toy-lstm.yaml: hidden 16
    assert len(out["lyapunov"]) == 2


@pytest.mark.parametrize("args,needle", [
    (["--config", "configs/sentiment-toy.yaml", "--direction", "bwd"], "--direction bwd needs a bidirectional model"),
    (["--config", "configs/sentiment-toy.yaml", "--layer", "3"], "--layer 3 does not exist"),
    (["--config", "configs/sentiment-toy.yaml", "--direction", "up"], "--direction must be fwd or bwd"),
    (["--config", "configs/sentiment-toy-generate.yaml"], "describes a generate model; jacobian measures one"),
    ([], "jacobian needs exactly one of --config FILE or --model RUN_DIR"),
])
def test_bad_requests_are_usage_errors(cli, workspace, args, needle):
    r = cli("jacobian", *args)
    assert r.code == ExitCode.USAGE, r.err
    assert needle in r.err and "Traceback" not in r.err


def test_a_trained_run(cli, workspace):
    assert cli("train", "--config", "configs/sentiment-toy.yaml", "--set", "train.epochs=2",
               "--set", "run.dir=runs/toy").code == 0
    r = cli("jacobian", "--model", "runs/toy", "--json")
    assert r.code == 0, r.err
    assert "(trained, 2 epochs)" in json.loads(r.out)["source"]


def test_plot(cli, workspace):
    pytest.importorskip("matplotlib")
    r = cli("jacobian", "--config", "configs/sentiment-toy.yaml", "--plot", "spectrum.png")
    assert r.code == 0, r.err
    assert (workspace / "spectrum.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote spectrum.png" in r.err
