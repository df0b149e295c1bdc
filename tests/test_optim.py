"""Optimisers, clipping and schedules: against reference implementations of PyTorch's documented pseudo-code,
against torch.optim itself when it is installed, and for state round trips, dtypes and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnncli.engine import optim

# (optimizer name, make_optimizer keyword arguments); each runs with and without weight decay.
CASES = [
    ("sgd", {}),
    ("momentum", {"momentum": 0.9, "nesterov": False}),
    ("momentum", {"momentum": 0.8, "nesterov": True}),
    ("adam", {}),
    ("rmsprop", {}),
    ("adagrad", {}),
]
DECAYS = [0.0, 0.1]
LRS = [0.1, 0.05, 0.2, 0.1, 0.03]  # changes between steps, as a schedule would


def case_id(case) -> str:
    name, kw = case
    return name + ("-nesterov" if kw.get("nesterov") else "")


# ------------------------------------------------------------------ a small quadratic


def quadratic(dtype=np.float64, seed=0):
    """f(θ) = ½ Σ a (θ - c)² over two tensors; returns (params, grad_fn) with ∇f = a (θ - c)."""
    rng = np.random.default_rng(seed)
    shapes = {"W": (3, 4), "b": (4,)}
    params = {k: rng.normal(size=s).astype(dtype) for k, s in shapes.items()}
    a = {k: rng.uniform(0.5, 3.0, size=s).astype(dtype) for k, s in shapes.items()}
    c = {k: rng.normal(size=s).astype(dtype) for k, s in shapes.items()}

    def grad_fn(ps):
        return {k: a[k] * (ps[k] - c[k]) for k in ps}

    return params, grad_fn


# ------------------------------------------------------------------ reference: PyTorch's pseudo-code, literally


def reference_run(name, kw, wd, params, grad_fn, lrs):
    """Each rule as written in the algorithm boxes of the torch.optim docs (one tensor at a time, float64)."""
    theta = {k: p.astype(np.float64) for k, p in params.items()}
    mu, nesterov = kw.get("momentum", 0.0), kw.get("nesterov", False)
    b1, b2, eps_adam = 0.9, 0.999, 1e-8
    alpha, eps_rms = 0.99, 1e-8
    eps_ada = 1e-10
    state = {k: {"b": None, "m": 0.0, "v": 0.0, "sum": 0.0} for k in theta}
    for t, lr in enumerate(lrs, start=1):
        grads = grad_fn(theta)
        for k in theta:
            g, st = grads[k], state[k]
            if wd != 0:
                g = g + wd * theta[k]
            if name == "sgd":
                theta[k] = theta[k] - lr * g
            elif name == "momentum":
                st["b"] = g if t == 1 else mu * st["b"] + (1 - 0) * g  # dampening τ = 0
                g = g + mu * st["b"] if nesterov else st["b"]
                theta[k] = theta[k] - lr * g
            elif name == "adam":
                st["m"] = b1 * st["m"] + (1 - b1) * g
                st["v"] = b2 * st["v"] + (1 - b2) * g**2
                m_hat = st["m"] / (1 - b1**t)
                v_hat = st["v"] / (1 - b2**t)
                theta[k] = theta[k] - lr * m_hat / (np.sqrt(v_hat) + eps_adam)
            elif name == "rmsprop":
                st["v"] = alpha * st["v"] + (1 - alpha) * g**2
                theta[k] = theta[k] - lr * g / (np.sqrt(st["v"]) + eps_rms)
            elif name == "adagrad":
                clr = lr / (1 + (t - 1) * 0.0)  # lr_decay η = 0
                st["sum"] = st["sum"] + g**2
                theta[k] = theta[k] - clr * g / (np.sqrt(st["sum"]) + eps_ada)
    return theta


def our_run(name, kw, wd, params, grad_fn, lrs):
    params = {k: p.copy() for k, p in params.items()}
    opt = optim.make_optimizer(name, params, lrs[0], weight_decay=wd, **kw)
    for lr in lrs:
        opt.lr = lr
        opt.step(params, grad_fn(params))
    return params


@pytest.mark.parametrize("wd", DECAYS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_reference_pseudo_code(case, wd):
    name, kw = case
    params, grad_fn = quadratic()
    ours = our_run(name, kw, wd, params, grad_fn, LRS)
    ref = reference_run(name, kw, wd, params, grad_fn, LRS)
    for k in ref:
        assert not np.allclose(ref[k], params[k])  # the run did move
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ torch.optim itself, when installed


def torch_optimizer(torch, name, kw, wd, tensors, lr):
    if name == "sgd":
        return torch.optim.SGD(tensors, lr=lr, weight_decay=wd)
    if name == "momentum":
        return torch.optim.SGD(tensors, lr=lr, momentum=kw["momentum"], nesterov=kw["nesterov"], weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(tensors, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(tensors, lr=lr, weight_decay=wd)
    return torch.optim.Adagrad(tensors, lr=lr, weight_decay=wd)


@pytest.mark.parametrize("wd", DECAYS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch_optim(case, wd):
    torch = pytest.importorskip("torch")
    name, kw = case
    params, grad_fn = quadratic()
    ours = our_run(name, kw, wd, params, grad_fn, LRS)

    tensors = {k: torch.tensor(p, dtype=torch.float64, requires_grad=True) for k, p in params.items()}
    opt = torch_optimizer(torch, name, kw, wd, list(tensors.values()), LRS[0])
    for lr in LRS:
        for group in opt.param_groups:
            group["lr"] = lr
        grads = grad_fn({k: t.detach().numpy().copy() for k, t in tensors.items()})
        for k, t in tensors.items():
            t.grad = torch.from_numpy(grads[k])
        opt.step()
    for k, t in tensors.items():
        np.testing.assert_allclose(ours[k], t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("schedule", ["step", "cosine"])
def test_schedules_match_torch(schedule):
    torch = pytest.importorskip("torch")
    epochs, step_size, gamma, base = 12, 5, 0.3, 0.1
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    if schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=0.0)
    for epoch in range(1, epochs + 1):
        expected = opt.param_groups[0]["lr"]  # what torch trains this epoch with
        assert optim.lr_at(schedule, base, epoch, epochs, step_size, gamma) == pytest.approx(expected, rel=1e-10)
        opt.step()
        sched.step()


# ------------------------------------------------------------------ state, dtype, learning rate


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_state_dict_round_trip_is_bit_for_bit(case):
    name, kw = case
    params, grad_fn = quadratic(np.float32)
    opt = optim.make_optimizer(name, params, 0.05, weight_decay=0.01, **kw)
    for _ in range(3):
        opt.step(params, grad_fn(params))
    saved_state = opt.state_dict()
    saved_params = {k: p.copy() for k, p in params.items()}
    assert all(isinstance(v, np.ndarray) for v in saved_state.values())
    for _ in range(2):
        opt.step(params, grad_fn(params))

    # Through an .npz-like copy, as a checkpoint would store it: no shared memory with the first optimiser.
    restored_params = {k: p.copy() for k, p in saved_params.items()}
    fresh = optim.make_optimizer(name, restored_params, 0.05, weight_decay=0.01, **kw)
    fresh.load_state_dict({k: v.copy() for k, v in saved_state.items()})
    for _ in range(2):
        fresh.step(restored_params, grad_fn(restored_params))
    for k in params:
        assert np.array_equal(restored_params[k], params[k])
    after, fresh_after = opt.state_dict(), fresh.state_dict()
    assert after.keys() == fresh_after.keys()
    assert all(np.array_equal(after[k], fresh_after[k]) for k in after)


def test_state_dict_is_a_snapshot():
    params, grad_fn = quadratic()
    opt = optim.make_optimizer("adam", params, 0.1)
    opt.step(params, grad_fn(params))
    state = opt.state_dict()
    before = {k: v.copy() for k, v in state.items()}
    opt.step(params, grad_fn(params))
    assert all(np.array_equal(state[k], before[k]) for k in state)


def test_load_state_dict_rejects_wrong_shape():
    params, _ = quadratic()
    opt = optim.make_optimizer("rmsprop", params, 0.1)
    state = opt.state_dict()
    state["v.W"] = np.zeros((4, 3))
    with pytest.raises(ValueError, match="v.W"):
        opt.load_state_dict(state)


@pytest.mark.parametrize("wd", DECAYS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_params_stay_float32_and_grads_are_untouched(case, wd):
    name, kw = case
    params, grad_fn = quadratic(np.float32)
    opt = optim.make_optimizer(name, params, np.float64(0.1), weight_decay=wd, **kw)  # even a NumPy float64 lr
    for _ in range(3):
        grads = grad_fn(params)
        grads_before = {k: g.copy() for k, g in grads.items()}
        ids = {k: id(p) for k, p in params.items()}
        opt.step(params, grads)
        assert all(np.array_equal(grads[k], grads_before[k]) for k in grads)
        assert {k: id(p) for k, p in params.items()} == ids  # updated in place
    assert all(p.dtype == np.float32 for p in params.values())
    assert all(v.dtype == np.float32 for k, v in opt.state_dict().items() if k != "t")


def test_changing_lr_between_steps_takes_effect():
    params, grad_fn = quadratic()
    opt = optim.make_optimizer("sgd", params, 0.1)
    before = {k: p.copy() for k, p in params.items()}
    grads = grad_fn(params)
    opt.lr = 0.0
    opt.step(params, grads)
    assert all(np.array_equal(params[k], before[k]) for k in params)
    opt.lr = 0.25
    opt.step(params, grads)
    for k in params:
        np.testing.assert_allclose(params[k], before[k] - 0.25 * grads[k], rtol=1e-15)


def test_unknown_optimizer_raises():
    params, _ = quadratic()
    with pytest.raises(ValueError, match="adm"):
        optim.make_optimizer("adm", params, 0.1)


# ------------------------------------------------------------------ clipping


def test_clip_grad_value_clamps_in_place():
    g = {"a": np.array([-3.0, -0.5, 0.0, 0.5, 3.0]), "b": np.array([[10.0, -10.0]], dtype=np.float32)}
    ids = {k: id(v) for k, v in g.items()}
    assert optim.clip_grad_value(g, 1.0) is None
    np.testing.assert_array_equal(g["a"], [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(g["b"], [[1.0, -1.0]])
    assert g["b"].dtype == np.float32 and {k: id(v) for k, v in g.items()} == ids


def test_clip_grad_norm_returns_norm_before_and_scales_to_max():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}  # global norm 5
    direction = {k: v / 5.0 for k, v in g.items()}
    assert optim.clip_grad_norm(g, 2.0) == pytest.approx(5.0)
    assert optim.global_norm(g) == pytest.approx(2.0, rel=1e-12)
    for k in g:
        np.testing.assert_allclose(g[k], 2.0 * direction[k], rtol=1e-12)


def test_clip_grad_norm_leaves_small_gradients_alone():
    g = {"a": np.array([0.3, -0.4])}
    assert optim.clip_grad_norm(g, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g["a"], [0.3, -0.4])
    assert optim.clip_grad_norm(g, math.inf) == pytest.approx(0.5)  # how train.py disables clipping


# ------------------------------------------------------------------ schedules


def test_lr_at_none_is_constant():
    assert [optim.lr_at("none", 0.1, e, 10, 3, 0.5) for e in (1, 5, 10)] == [0.1, 0.1, 0.1]


def test_lr_at_step():
    lrs = [optim.lr_at("step", 0.1, e, 10, 3, 0.5) for e in range(1, 11)]
    expected = [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125]
    assert lrs == pytest.approx(expected, rel=1e-15)


def test_lr_at_cosine():
    lr = lambda e: optim.lr_at("cosine", 0.1, e, 10, 3, 0.5)  # noqa: E731
    assert lr(1) == pytest.approx(0.1, rel=1e-15)  # starts at the base rate
    assert lr(6) == pytest.approx(0.05, rel=1e-12)  # halfway through: (1 + cos(π/2)) / 2
    assert lr(10) == pytest.approx(0.1 * (1 + math.cos(math.pi * 0.9)) / 2, rel=1e-15)
    lrs = [lr(e) for e in range(1, 11)]
    assert all(a > b > 0 for a, b in zip(lrs, lrs[1:]))  # decreasing, never reaching 0 within the run


def test_lr_at_unknown_schedule_raises():
    with pytest.raises(ValueError, match="linear"):
        optim.lr_at("linear", 0.1, 1, 10, 3, 0.5)


# ------------------------------------------------------------------ LazyAdam: row-sparse Adam for embedding tables


def _row_sparse_grads(rng, shape, steps, dtype=np.float64):
    """Gradients in which only some rows are non-zero at each step, as an embedding's are."""
    out = []
    for _ in range(steps):
        g = np.zeros(shape, dtype=dtype)
        rows = rng.choice(shape[0], size=shape[0] // 3, replace=False)
        g[rows] = rng.normal(size=(len(rows), shape[1]))
        out.append(g)
    return out


@pytest.mark.parametrize("block", [None, 6])  # 6: two rows of the table at a time
@pytest.mark.parametrize("wd", DECAYS)
def test_lazy_adam_moves_only_the_rows_with_a_gradient(monkeypatch, wd, block):
    if block is not None:
        monkeypatch.setattr(optim, "GATHER", block)
    rng = np.random.default_rng(0)
    params = {"embedding.weight": rng.normal(size=(9, 3)), "W": rng.normal(size=(2, 3))}
    emb_grads = _row_sparse_grads(rng, (9, 3), len(LRS))
    w_grads = [rng.normal(size=(2, 3)) for _ in LRS]
    lazy, dense = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
    opt_lazy = optim.make_optimizer("lazy_adam", lazy, LRS[0], weight_decay=wd)
    opt_dense = optim.make_optimizer("adam", dense, LRS[0], weight_decay=wd)
    ref, m, v = params["embedding.weight"].copy(), np.zeros((9, 3)), np.zeros((9, 3))
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t, (lr, ge, gw) in enumerate(zip(LRS, emb_grads, w_grads), start=1):
        before = lazy["embedding.weight"].copy()
        for o in (opt_lazy, opt_dense):
            o.lr = lr
        opt_lazy.step(lazy, {"embedding.weight": ge, "W": gw})
        opt_dense.step(dense, {"embedding.weight": ge, "W": gw})
        rows = np.flatnonzero(ge.any(axis=1))
        still = np.setdiff1d(np.arange(9), rows)
        assert np.array_equal(lazy["embedding.weight"][still], before[still])  # absent rows do not move
        # the reference: SparseAdam's rule on the present rows only, with the global step t
        g = ge[rows] + wd * ref[rows]
        m[rows] = b1 * m[rows] + (1 - b1) * g
        v[rows] = b2 * v[rows] + (1 - b2) * g * g
        ref[rows] -= lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m[rows] / (np.sqrt(v[rows]) + eps)
        np.testing.assert_allclose(lazy["embedding.weight"], ref, rtol=1e-12, atol=1e-14)
    assert np.array_equal(lazy["W"], dense["W"])  # not a table: plain Adam, bit for bit
    assert not np.allclose(lazy["embedding.weight"], dense["embedding.weight"])  # a different optimiser
    state = opt_lazy.state_dict()
    np.testing.assert_allclose(state["m.embedding.weight"], m, rtol=1e-12, atol=1e-14)


def test_lazy_adam_treats_only_embedding_tables_as_rows():
    """Word-feature and seq2seq tables are tables too; a 2-D weight with zero rows is not."""
    rng = np.random.default_rng(1)
    params = {"suffix_embedding.weight": rng.normal(size=(5, 2)), "head.W": rng.normal(size=(5, 2))}
    g = np.zeros((5, 2))
    g[1] = 1.0
    opt = optim.make_optimizer("lazy_adam", params, 0.1)
    before = {k: v.copy() for k, v in params.items()}
    opt.step(params, {k: g for k in params})
    assert np.array_equal(params["suffix_embedding.weight"][[0, 2, 3, 4]], before["suffix_embedding.weight"][[0, 2, 3, 4]])
    assert np.array_equal(params["head.W"][[0, 2, 3, 4]], before["head.W"][[0, 2, 3, 4]])  # g = 0: Adam leaves them
    moved, kept = params["head.W"][1].copy(), params["suffix_embedding.weight"][1].copy()
    opt.step(params, {k: np.zeros((5, 2)) for k in params})  # no gradient at all
    assert not np.array_equal(params["head.W"][1], moved)  # momentum carries the dense parameter on
    assert np.array_equal(params["suffix_embedding.weight"][1], kept)  # the table row waits for its token


def test_lazy_adam_matches_torch_sparse_adam():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    table = rng.normal(size=(12, 4))
    grads = _row_sparse_grads(rng, (12, 4), len(LRS))
    ours = {"embedding.weight": table.copy()}
    opt = optim.make_optimizer("lazy_adam", ours, LRS[0])
    weight = torch.tensor(table, dtype=torch.float64, requires_grad=True)
    sparse = torch.optim.SparseAdam([weight], lr=LRS[0])
    for lr, g in zip(LRS, grads):
        opt.lr = lr
        opt.step(ours, {"embedding.weight": g})
        sparse.param_groups[0]["lr"] = lr
        weight.grad = torch.from_numpy(g).to_sparse(sparse_dim=1)  # one entry per non-zero row, as nn.Embedding's
        sparse.step()
    np.testing.assert_allclose(ours["embedding.weight"], weight.detach().numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ weight average (train.ema_decay)


@pytest.mark.parametrize("size", [7, 5 * (1 << 15) + 3], ids=["one-call", "blockwise"])
def test_weight_average_follows_its_equation(size):
    """θ̄ = θ after the first update, then θ̄ ← d θ̄ + (1 - d) θ; large arrays go block by block."""
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=size), "b": rng.normal(size=(2, 3))}
    average, d = optim.WeightAverage(params, 0.9), 0.9
    expected = None
    for _ in range(4):
        for p in params.values():
            p += rng.normal(size=p.shape)
        average.update(params)
        expected = {k: p.copy() for k, p in params.items()} if expected is None else \
            {k: d * expected[k] + (1 - d) * params[k] for k in params}
        for k in params:
            np.testing.assert_allclose(average.weights[k], expected[k], rtol=1e-12, atol=1e-12)
    assert average.n == 4
    fresh = optim.WeightAverage({k: np.zeros_like(p) for k, p in params.items()}, 0.9)
    fresh.load_state_dict(average.state_dict())
    assert fresh.n == 4 and all(np.array_equal(fresh.weights[k], average.weights[k]) for k in params)
    with pytest.raises(ValueError, match="shape"):
        fresh.load_state_dict({**average.state_dict(), "b": np.zeros(3)})


def test_weight_average_keeps_float32():
    params = {"W": np.ones((3, 4), dtype=np.float32)}
    average = optim.WeightAverage(params, 0.99)
    for _ in range(2):
        params["W"] += np.float32(0.5)
        average.update(params)
    assert average.weights["W"].dtype == np.float32


def test_weight_average_matches_torch_averaged_model():
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    rng = np.random.default_rng(1)
    module = torch.nn.Linear(4, 3).double()
    ema = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(0.95))
    params = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    ours = optim.WeightAverage(params, 0.95)
    for _ in range(5):
        with torch.no_grad():
            for k, p in module.state_dict().items():
                p += torch.from_numpy(rng.normal(size=tuple(p.shape)))
        params = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
        ema.update_parameters(module)
        ours.update(params)
    theirs = {k[len("module."):]: v.numpy() for k, v in ema.state_dict().items() if k.startswith("module.")}
    for k in params:
        np.testing.assert_allclose(ours.weights[k], theirs[k], rtol=1e-12, atol=1e-12)
