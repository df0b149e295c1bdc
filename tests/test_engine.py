"""Engine correctness: finite differences, masking invariance, a slow reference loop, gate order."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from rnncli.tools import gradcheck as gc
from rnncli.engine import cells, functional, losses
from rnncli.engine.recurrent import stack_backward, stack_forward
from rnncli.models import ModelSpec, init_params, loss_and_grads
from rnncli.models.sequence import forward

CELL_VARIANTS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


# ------------------------------------------------------------------ finite differences


@pytest.mark.parametrize("spec,padded", gc.default_cases(), ids=lambda c: gc.case_name(*c) if isinstance(c, tuple) else None)
def test_every_gradient_matches_finite_differences(spec, padded):
    result = gc.check_case(spec, padded, seed=1)
    assert result.passed, result  # max|a - n| / max(|a|, |n|) ≤ 1e-5; a wrong derivative gives ~1e-1


def test_gradcheck_covers_every_parameter_and_the_embedding():
    names = set()
    for spec, padded in gc.default_cases():
        names |= set(spec.param_shapes())
    assert "embedding.weight" in names
    assert {"rnn.l1_reverse.W_ih", "rnn.l1_reverse.b_hh", "head.W", "head.b"} <= names


def test_gradcheck_detects_a_wrong_gradient(monkeypatch):
    """The oracle must be able to fail: break the tanh derivative and watch it."""
    def wrong_backward(d_state, cache, W_hh, da, dhh):
        (dh,) = d_state
        da[...] = dh * (1.0 - cache.h)  # wrong: should be 1 - h²
        return (da @ W_hh,)

    broken = cells.Cell("rnn_tanh", 1, 1, False, cells.rnn_tanh_step_forward, wrong_backward)
    monkeypatch.setitem(cells.CELLS, "rnn_tanh", broken)
    spec = ModelSpec(vocab_size=6, num_classes=2, embedding_dim=3, hidden_size=3)
    assert not gc.check_case(spec, padded=True).passed


# ------------------------------------------------------------------------- masking


def _batch(spec, rng, lengths, T):
    ids = rng.integers(1, spec.vocab_size, size=(len(lengths), T))
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    ids[~mask] = 0
    return ids, mask


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_padded_batch_equals_each_sequence_alone(cell, act, bidirectional, num_layers):
    """Outputs, final states and every gradient of a padded batch equal those of each sequence alone."""
    rng = np.random.default_rng(3)
    spec = ModelSpec(vocab_size=9, num_classes=2, cell=cell, activation=act, embedding_dim=4, hidden_size=3,
                     num_layers=num_layers, bidirectional=bidirectional)
    params = init_params(spec, rng, np.float64)
    lengths = [6, 2, 4, 1]
    ids, mask = _batch(spec, rng, lengths, T=6)
    x = params["embedding.weight"][ids]
    outs, finals, cache = stack_forward(x, mask, params, spec.stack)
    d_out = rng.standard_normal(outs.shape)
    d_finals = [[tuple(rng.standard_normal(s.shape) for s in state) for state in layer] for layer in finals]
    grads, dx, _ = stack_backward(d_out, d_finals, cache, params, spec.stack)

    assert np.all(outs[~mask] == 0.0)  # outputs at padded steps are exactly 0
    summed = {k: np.zeros_like(v) for k, v in grads.items()}
    for n, L in enumerate(lengths):
        o1, f1, c1 = stack_forward(x[n : n + 1, :L], mask[n : n + 1, :L], params, spec.stack)
        np.testing.assert_allclose(o1[0], outs[n, :L], rtol=1e-12, atol=1e-12)
        for k in range(num_layers):
            for d in range(spec.stack.directions):
                for s1, s in zip(f1[k][d], finals[k][d]):
                    np.testing.assert_allclose(s1[0], s[n], rtol=1e-12, atol=1e-12)
        d_f1 = [[tuple(g[n : n + 1] for g in state) for state in layer] for layer in d_finals]
        g1, dx1, _ = stack_backward(d_out[n : n + 1, :L], d_f1, c1, params, spec.stack)
        np.testing.assert_allclose(dx1[0], dx[n, :L], rtol=1e-10, atol=1e-12)
        for key in summed:
            summed[key] += g1[key]
    for key in grads:
        np.testing.assert_allclose(grads[key], summed[key], rtol=1e-10, atol=1e-12, err_msg=key)


def test_all_padding_row_keeps_the_initial_state_and_gets_no_gradient():
    rng = np.random.default_rng(0)
    spec = ModelSpec(vocab_size=6, num_classes=2, cell="lstm", embedding_dim=3, hidden_size=2, bidirectional=True)
    params = init_params(spec, rng, np.float64)
    ids = np.array([[2, 3, 4], [0, 0, 0]])
    mask = ids > 0
    logits, _ = forward(params, spec, ids, mask)
    np.testing.assert_allclose(logits[1], params["head.b"])  # h = 0, so only the bias remains
    _, grads, _, _ = loss_and_grads(params, spec, ids, mask, np.array([1, 0]))
    assert np.all(grads["embedding.weight"][0] == 0.0)


# ----------------------------------------------------------- slow reference loop


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_logits(params, spec: ModelSpec, ids, lengths):
    """Per example, per step, straight from PyTorch's documented equations."""
    H = spec.hidden_size
    logits = []
    for n, L in enumerate(lengths):
        seq = [params["embedding.weight"][i] for i in ids[n, :L]]
        for k in range(spec.num_layers):
            outputs = []
            for d in range(2 if spec.bidirectional else 1):
                name = f"rnn.l{k}{'_reverse' if d else ''}"
                W_ih, W_hh = params[f"{name}.W_ih"], params[f"{name}.W_hh"]
                h, c = np.zeros(H), np.zeros(H)
                hs = [None] * L
                for t in (range(L - 1, -1, -1) if d else range(L)):
                    x = seq[t]
                    if spec.cell == "rnn":
                        z = W_ih @ x + W_hh @ h + params[f"{name}.b"]
                        h = np.tanh(z) if spec.activation == "tanh" else np.maximum(z, 0)
                    elif spec.cell == "lstm":
                        g = W_ih @ x + W_hh @ h + params[f"{name}.b"]
                        i, f, gg, o = _sig(g[:H]), _sig(g[H : 2 * H]), np.tanh(g[2 * H : 3 * H]), _sig(g[3 * H :])
                        c = f * c + i * gg
                        h = o * np.tanh(c)
                    else:
                        gi = W_ih @ x + params[f"{name}.b_ih"]
                        gh = W_hh @ h + params[f"{name}.b_hh"]
                        r = _sig(gi[:H] + gh[:H])
                        z = _sig(gi[H : 2 * H] + gh[H : 2 * H])
                        nn = np.tanh(gi[2 * H :] + r * gh[2 * H :])
                        h = (1 - z) * nn + z * h
                    hs[t] = h
                outputs.append((hs, h))
            seq = [np.concatenate([o[0][t] for o in outputs]) for t in range(L)]
            finals = np.concatenate([o[1] for o in outputs])
        logits.append(params["head.W"] @ finals + params["head.b"])
    return np.array(logits)


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_batched_engine_agrees_with_slow_reference_loop(cell, act, bidirectional):
    rng = np.random.default_rng(5)
    spec = ModelSpec(vocab_size=10, num_classes=3, cell=cell, activation=act, embedding_dim=4, hidden_size=3,
                     num_layers=2, bidirectional=bidirectional)
    params = init_params(spec, rng, np.float64)
    lengths = [5, 3, 1]
    ids, mask = _batch(spec, rng, lengths, T=5)
    logits, _ = forward(params, spec, ids, mask)
    np.testing.assert_allclose(logits, reference_logits(params, spec, ids, lengths), rtol=1e-12, atol=1e-12)


def test_gate_order_is_pytorch():
    """LSTM rows [i, f, g, o]: with only the forget gate open and the others shut, c_t = c_{t-1}."""
    H = 2
    big = 30.0
    a = np.zeros((1, 4 * H))
    a[:, :H] = -big  # i ≈ 0
    a[:, H : 2 * H] = big  # f ≈ 1
    a[:, 3 * H :] = big  # o ≈ 1
    c_prev = np.array([[0.5, -0.25]])
    (h, c), _ = cells.lstm_step_forward(a, (np.zeros((1, H)), c_prev), np.zeros((H, 4 * H)), None)
    np.testing.assert_allclose(c, c_prev, atol=1e-12)
    np.testing.assert_allclose(h, np.tanh(c_prev), atol=1e-12)
    # GRU rows [r, z, n]: z ≈ 1 keeps h_{t-1} whatever the candidate
    g = np.zeros((1, 3 * H))
    g[:, H : 2 * H] = big
    g[:, 2 * H :] = 3.0
    h_prev = np.array([[0.3, -0.7]])
    (h,), _ = cells.gru_step_forward(g, (h_prev,), np.zeros((H, 3 * H)), np.zeros(3 * H))
    np.testing.assert_allclose(h, h_prev, atol=1e-12)


@pytest.mark.parametrize("name", list(cells.CELLS))
def test_backward_never_mutates_its_inputs(name):
    cell = cells.CELLS[name]
    rng = np.random.default_rng(0)
    N, H = 2, 3
    a = rng.standard_normal((N, cell.gates * H))
    state = tuple(rng.standard_normal((N, H)) for _ in range(cell.state_size))
    W_hh = rng.standard_normal((cell.gates * H, H))
    b_hh = rng.standard_normal(cell.gates * H)
    _, cache = cell.step_forward(a, state, np.ascontiguousarray(W_hh.T), b_hh)
    d_state = tuple(rng.standard_normal((N, H)) for _ in range(cell.state_size))
    before = copy.deepcopy((d_state, cache, W_hh))
    da = np.empty((N, cell.gates * H))
    cell.step_backward(d_state, cache, W_hh, da, np.empty_like(da) if cell.hidden_bias else da)
    for x, y in zip(np.concatenate([np.ravel(v) for v in before[0]]), np.concatenate([np.ravel(v) for v in d_state])):
        assert x == y
    for old, new in zip(before[1], cache):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(before[2], W_hh)


# ------------------------------------------------------------------ small pieces


def test_sigmoid_and_log_softmax_are_stable():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    s = functional.sigmoid(x)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[2] == 0.5 and s[-1] == 1.0
    assert np.all(np.isfinite(functional.log_sigmoid(x)))
    ls = functional.log_softmax(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.isfinite(ls).all() and abs(np.exp(ls).sum() - 1) < 1e-12


def test_losses_match_their_definitions():
    z = np.array([0.3, -1.2, 2.0])
    y = np.array([1, 0, 1])
    loss, dz = losses.bce_with_logits(z, y)
    p = _sig(z)
    assert loss == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    np.testing.assert_allclose(dz, (p - y) / 3)
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = np.array([1, 2])
    loss, d = losses.softmax_cross_entropy(logits, t, np.array([1.0, 0.0]))  # second row masked out
    e = np.exp(logits[0]) / np.exp(logits[0]).sum()
    assert loss == pytest.approx(-np.log(e[1]))
    np.testing.assert_allclose(d[0], e - np.eye(3)[1])
    np.testing.assert_allclose(d[1], 0.0)


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    spec = ModelSpec(vocab_size=7, num_classes=3, cell="gru", embedding_dim=3, hidden_size=4, bidirectional=True)
    params = init_params(spec, rng, np.float32)
    ids, mask = _batch(spec, rng, [3, 2], T=3)
    loss, grads, logits, _ = loss_and_grads(params, spec, ids, mask, np.array([0, 2]))
    assert logits.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_lecture_parameter_count_is_31():
    spec = ModelSpec(vocab_size=7, num_classes=2, input="onehot", hidden_size=3)  # 5 words + <pad>, <unk>
    shapes = spec.param_shapes()
    assert shapes == {"rnn.l0.W_ih": (3, 5), "rnn.l0.W_hh": (3, 3), "rnn.l0.b": (3,), "head.W": (1, 3), "head.b": (1,)}
    assert sum(int(np.prod(s)) for s in shapes.values()) == 31


@pytest.mark.parametrize("cell,gates,biases", [("rnn", 1, 1), ("lstm", 4, 1), ("gru", 3, 2)])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_parameter_counts_follow_keras(cell, gates, biases, bidirectional, num_layers):
    """Per layer and direction: G·H·(D + H + number of biases); Keras counts SimpleRNN/LSTM with one
    bias and GRU(reset_after=True) with two. PyTorch has one more bias vector for RNN/LSTM."""
    D, H, V, C = 5, 4, 11, 3
    spec = ModelSpec(vocab_size=V, num_classes=C, cell=cell, embedding_dim=D, hidden_size=H,
                     num_layers=num_layers, bidirectional=bidirectional)
    dirs = 2 if bidirectional else 1
    expected = V * D + C * (H * dirs) + C
    for k in range(num_layers):
        d_in = D if k == 0 else H * dirs
        expected += dirs * gates * H * (d_in + H + biases)
    assert sum(int(np.prod(s)) for s in spec.param_shapes().values()) == expected


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("chunk_rows", [1, 8])
def test_weight_gradients_do_not_depend_on_the_time_chunks(monkeypatch, cell, act, chunk_rows):
    """BPTT sums dW_hh over chunks of k = ⌈CHUNK_ROWS / N⌉ steps: one step (k = 1) or two steps (which do not
    divide T = 7) give the gradients of one chunk over all steps, and pass the gradient check."""
    from rnncli.engine import recurrent

    rng = np.random.default_rng(5)
    spec = ModelSpec(vocab_size=9, num_classes=2, cell=cell, activation=act, embedding_dim=4, hidden_size=3,
                     num_layers=2, bidirectional=True)
    params = init_params(spec, rng, np.float64)
    ids, mask = _batch(spec, rng, [7, 3, 5, 1], T=7)
    targets = np.array([1, 0, 1, 0])
    monkeypatch.setattr(recurrent, "CHUNK_ROWS", 10**6)
    _, whole, _, _ = loss_and_grads(params, spec, ids, mask, targets)
    monkeypatch.setattr(recurrent, "CHUNK_ROWS", chunk_rows)
    _, chunked, _, _ = loss_and_grads(params, spec, ids, mask, targets)
    for key in whole:
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-12, atol=1e-14, err_msg=key)
    assert gc.check_case(spec, padded=True).passed


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
def test_each_hidden_state_is_stored_once(cell, act):
    """The step caches hold views of the layer's output, which both directions write into: BPTT keeps
    every h_t once (the memory benchmark's budget depends on it)."""
    rng = np.random.default_rng(2)
    spec = ModelSpec(vocab_size=9, num_classes=2, cell=cell, activation=act, embedding_dim=4, hidden_size=3,
                     bidirectional=True)
    params = init_params(spec, rng, np.float64)
    ids, mask = _batch(spec, rng, [5, 5], T=5)
    outs, _, cache = stack_forward(params["embedding.weight"][ids], mask, params, spec.stack)
    for d in range(2):
        steps = cache.directions[(0, d)].steps
        assert all(np.shares_memory(step.h_prev, outs) for step in steps[1:])
        assert not any(np.shares_memory(step.h_prev, steps[0].h_prev) for step in steps[1:])


# ------------------------------------------------------- layer 0 from an embedding table


def test_sum_rows_by_id_is_a_scatter_add():
    from rnncli.engine.layers import sum_rows_by_id

    rng = np.random.default_rng(6)
    rows, ids = rng.standard_normal((50, 7)), rng.integers(0, 6, size=50)  # id 6 of 7 never occurs
    expected = np.zeros((7, 7))
    np.add.at(expected, ids, rows)
    np.testing.assert_allclose(sum_rows_by_id(rows, ids, 7), expected, rtol=1e-12, atol=1e-14)
    assert not sum_rows_by_id(rows[:0], ids[:0], 3).any()


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("vocab_size", [5, 20, 200])  # ids summed per id; projected table only; neither
def test_layer0_from_the_embedding_table_equals_the_lookup(cell, act, vocab_size):
    """Given the lookup x = E[ids], the stack projects E (V < N·T) and sums ∂L/∂A per id (V·8 ≤ N·T):
    the same outputs, parameter gradients and ∂L/∂E as from x, with dx scattered into E's rows."""
    from rnncli.engine.layers import embedding_backward

    rng = np.random.default_rng(7)
    spec = ModelSpec(vocab_size=vocab_size, num_classes=2, cell=cell, activation=act, embedding_dim=4,
                     hidden_size=3, num_layers=2, bidirectional=True)
    params = init_params(spec, rng, np.float64)
    ids, mask = _batch(spec, rng, [8, 5, 8, 2, 7, 8], T=8)  # N·T = 48
    E = params["embedding.weight"]
    d_out = rng.standard_normal((6, 8, 6)) * mask[:, :, None]
    runs = []
    for embedding in (None, ("embedding.weight", ids)):
        out, finals, cache = stack_forward(E[ids], mask, params, spec.stack, embedding=embedding)
        grads, d_in, _ = stack_backward(d_out.copy(), None, cache, params, spec.stack)
        runs.append((out, grads, grads.pop("embedding.weight") if embedding else embedding_backward(d_in, ids, vocab_size)))
    (out_x, grads_x, dE_x), (out_e, grads_e, dE_e) = runs
    np.testing.assert_allclose(out_e, out_x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dE_e, dE_x, rtol=1e-12, atol=1e-14)
    for key in grads_x:
        np.testing.assert_allclose(grads_e[key], grads_x[key], rtol=1e-12, atol=1e-14, err_msg=key)


PER_ID_CASES = [(spec, padded) for spec, padded in gc.default_cases()  # each cell: tag (bi), lm, seq2seq
                if spec.input == "embedding" and spec.num_layers == 2 and padded and spec.task in ("tag", "lm", "seq2seq")
                and not (spec.word_features or spec.learn_h0 or spec.dropout) and spec.bidirectional != (spec.task == "lm")]


@pytest.mark.parametrize("spec,padded", PER_ID_CASES, ids=[gc.case_name(*c) for c in PER_ID_CASES])
def test_gradients_summed_per_id_match_finite_differences(monkeypatch, spec, padded):
    """The gradient check's batches are too small for ids to repeat 8 times: with the threshold at 1,
    layer 0 (and seq2seq's encoder and decoder) sum ∂L/∂A per id, and every gradient still checks."""
    from rnncli.engine import recurrent

    monkeypatch.setattr(recurrent, "MIN_ID_REPEATS", 1)
    result = gc.check_case(spec, padded, seed=1)
    assert result.passed, result


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_forward_only_max_pooling_takes_the_maxima_without_their_positions(cell):
    """The forward-only path max-pools with max() instead of argmax() and a gather: the same bits, and the zero
    summary for a text with no real token."""
    from rnncli.tasks import model_spec

    spec = model_spec(dict(task="classify", vocab_size=9, num_classes=3, cell=cell, embedding_dim=4, hidden_size=3,
                           bidirectional=True, pooling="max"))
    rng = np.random.default_rng(6)
    params = init_params(spec, rng, np.float32)
    ids, mask = _batch(spec, rng, [5, 0, 2, 4], T=5)
    logits, cache = forward(params, spec, ids, mask)
    only, light = forward(params, spec, ids, mask, keep_cache=False)
    assert np.array_equal(only, logits) and np.array_equal(light.features, cache.features)
    assert not light.features[1].any() and light.pool_index is None and cache.pool_index is not None


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_concat_pooling_is_last_max_and_mean_side_by_side_and_padding_free(cell):
    """pooling concat: the summary is [last, max, mean] of the same stack (each pooling's own summary), the
    forward-only path gives the same bits, and a padded batch's logits and gradients equal each text alone."""
    from dataclasses import replace

    from rnncli.tasks import model_spec

    spec = model_spec(dict(task="classify", vocab_size=9, num_classes=3, cell=cell, embedding_dim=4, hidden_size=3,
                           num_layers=2, bidirectional=True, pooling="concat"))
    rng = np.random.default_rng(8)
    params = init_params(spec, rng, np.float64)
    assert params["head.W"].shape == (3, 3 * 2 * 3)
    lengths = [5, 2, 4, 1]
    ids, mask = _batch(spec, rng, lengths, T=5)
    logits, cache = forward(params, spec, ids, mask)
    F = spec.stack.output_size
    for i, pooling in enumerate(("last", "max", "mean")):
        alone = replace(spec, pooling=pooling)
        one = {**params, "head.W": params["head.W"][:, i * F : (i + 1) * F]}
        np.testing.assert_array_equal(forward(one, alone, ids, mask)[1].features, cache.features[:, i * F : (i + 1) * F])
    only, _ = forward(params, spec, ids, mask, keep_cache=False)
    assert np.array_equal(only, logits)

    targets = np.array([0, 2, 1, 2])
    _, grads, _, _ = loss_and_grads(params, spec, ids, mask, targets)
    summed = {k: np.zeros_like(v) for k, v in grads.items()}
    for n, L in enumerate(lengths):
        _, g1, l1, _ = loss_and_grads(params, spec, ids[n : n + 1, :L], mask[n : n + 1, :L], targets[n : n + 1])
        np.testing.assert_allclose(l1[0], logits[n], rtol=1e-12, atol=1e-12)
        for key in summed:
            summed[key] += g1[key] / len(lengths)
    for key in grads:
        np.testing.assert_allclose(grads[key], summed[key], rtol=1e-10, atol=1e-12, err_msg=key)


def _two_layer_model(cell, act, features: bool, seed: int, lengths):
    """A 2-layer bidirectional classifier, or with ``features`` a tagger whose words also have a suffix
    feature and a character encoder; its parameters and a padded batch of ``lengths`` (ids (N, T[, 7]))."""
    from rnncli.tasks import model_spec

    extra = dict(word_features=(("suffix2", 7), ("chars5", 9)), char_embedding_dim=3, char_hidden_size=2) \
        if features else {}
    spec = model_spec(dict(task="tag" if features else "classify", vocab_size=9, num_classes=3, cell=cell,
                           activation=act, embedding_dim=4, hidden_size=3, num_layers=2, bidirectional=True, **extra))
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, np.float32)
    ids, mask = _batch(spec, rng, lengths, T=5)
    if features:
        ids = np.concatenate([ids[..., None], rng.integers(2, 7, size=ids.shape + (1,)),
                              rng.integers(0, 9, size=ids.shape + (5,))], axis=-1) * mask[..., None]
    return spec, params, ids, mask


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("features", [False, True])
def test_forward_only_path_gives_the_same_bits_and_keeps_nothing(cell, act, features):
    """keep_cache=False (scoring, predict, serve) computes exactly what the training forward pass computes
    (the same operations: identical bits), and keeps no stack or character cache for backward."""
    spec, params, ids, mask = _two_layer_model(cell, act, features, seed=5, lengths=[5, 2, 4])
    logits, cache = forward(params, spec, ids, mask)
    only, light = forward(params, spec, ids, mask, keep_cache=False)
    assert light.stack is None and light.chars is None and cache.stack is not None
    assert np.array_equal(only, logits)
    for layer, layer_only in zip(cache.finals, light.finals):
        for state, state_only in zip(layer, layer_only):
            assert all(np.array_equal(a, b) for a, b in zip(state, state_only))


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("order", ["ascending", "descending", "mixed"])
def test_forward_only_loop_over_real_rows_equals_the_masked_loop(cell, act, order):
    """Batches sorted by length (as scoring makes them) run only their real rows at each step; the outputs and
    final states are those of the masked loop up to rounding (BLAS may round a product of fewer rows
    differently on some CPUs), and unsorted batches take the masked loop."""
    from rnncli.engine import recurrent

    lengths = {"ascending": [0, 1, 3, 3, 5, 7], "descending": [7, 6, 4, 2, 2, 0], "mixed": [3, 7, 1, 5, 0, 2]}[order]
    rng = np.random.default_rng(11)
    spec = ModelSpec(vocab_size=9, num_classes=2, cell=cell, activation=act, embedding_dim=4, hidden_size=5,
                     num_layers=2, bidirectional=True, learn_h0=True)
    params = init_params(spec, rng, np.float32)
    for name in params:
        if name.endswith(("h0", "c0")):
            params[name] = rng.standard_normal(params[name].shape).astype(np.float32)
    ids, mask = _batch(spec, rng, lengths, T=7)
    x = params["embedding.weight"][ids]
    masked = stack_forward(x, mask, params, spec.stack)
    fast = stack_forward(x, mask, params, spec.stack, keep_cache=False)
    assert (recurrent.active_ranges(mask) is None) == (order == "mixed")
    np.testing.assert_allclose(fast[0], masked[0], rtol=1e-5, atol=1e-6)
    for layer, layer_fast in zip(masked[1], fast[1]):
        for state, state_fast in zip(layer, layer_fast):
            for a, b in zip(state, state_fast):
                np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("features", [False, True])
def test_scoring_with_the_recurrent_weights_transposed_once_gives_the_same_bits(cell, act, features):
    """Scoring hands the time loop W_hh^T made once for all its batches (with_transposes): the same copy the
    loop makes per batch otherwise, so the same bits, for the word stack and the character encoder alike."""
    from rnncli.engine.recurrent import with_transposes

    spec, params, ids, mask = _two_layer_model(cell, act, features, seed=12, lengths=[5, 4, 2])
    scoring = with_transposes(params)
    added = sorted(set(scoring) - set(params))
    assert added == sorted(n[: -len(".W_hh")] + ".W_hh_T" for n in params if n.endswith(".W_hh"))
    assert len(added) == 4 + 2 * bool(features) and scoring.keys() >= params.keys()
    for name in added:
        assert scoring[name].flags.c_contiguous
        np.testing.assert_array_equal(scoring[name], params[name[: -len("_T")]].T)
    plain, _ = forward(params, spec, ids, mask, keep_cache=False)
    once, _ = forward(scoring, spec, ids, mask, keep_cache=False)
    np.testing.assert_array_equal(once, plain)
    trained, _ = forward(scoring, spec, ids, mask)  # the masked loop takes it too (over every row: equal up to rounding)
    np.testing.assert_allclose(trained, plain, rtol=1e-5, atol=1e-6)
    assert all(with_transposes(scoring)[name] is scoring[name] for name in added)  # a nested call copies nothing
    if act != "relu":  # each layer reads its own: a wrong W_hh^T changes the result (not always for ReLU,
        # whose small random layers here can have every unit at 0)
        for name in added:
            wrong, _ = forward(scoring | {name: np.zeros_like(scoring[name])}, spec, ids, mask, keep_cache=False)
            assert not np.array_equal(wrong, plain), name


def test_active_ranges_of_left_and_right_padding():
    from rnncli.engine.recurrent import active_ranges

    right = np.arange(4)[None, :] < np.array([1, 2, 4])[:, None]
    assert active_ranges(right) == [(0, 3), (1, 3), (2, 3), (2, 3)]
    assert active_ranges(right[:, ::-1]) == [(2, 3), (2, 3), (1, 3), (0, 3)]
    assert active_ranges(np.zeros((2, 3), dtype=bool)) == [(0, 0)] * 3
    assert active_ranges(np.array([[1, 0, 1]], dtype=bool)) is None  # a gap inside a row


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forward_only_character_encoder_sorts_the_words_and_gives_the_same_vectors(cell):
    from rnncli.models import chars
    from rnncli.tasks import model_spec

    spec = model_spec(dict(task="tag", vocab_size=9, num_classes=3, cell=cell, embedding_dim=4, hidden_size=3,
                           word_features=(("chars6", 9),), char_embedding_dim=3, char_hidden_size=4))
    rng = np.random.default_rng(8)
    params = init_params(spec, rng, np.float32)
    lengths = rng.integers(1, 7, size=(3, 5))  # characters of each word, right-padded
    ids = np.where(np.arange(6) < lengths[..., None], rng.integers(2, 9, size=(3, 5, 6)), 0)
    mask = np.arange(5)[None, :] < np.array([[5], [2], [4]])
    R, cache = chars.forward(params, spec, ids, mask)
    R_only, none = chars.forward(params, spec, ids, mask, keep_cache=False)
    assert none is None and not R_only[~mask].any()
    np.testing.assert_array_equal(R_only, R)


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("N", [5, 1])
def test_forward_only_step_gives_the_training_step_s_bits(cell, act, N):
    """The forward-only loop's step (keep_cache=False: no cache, σ without an errstate of its own) is the
    training step's arithmetic: the same bits, also where e^-x overflows (σ = 0) inside the loop's errstate,
    which keeps the overflow quiet."""
    import warnings

    rng = np.random.default_rng(21)
    c = cells.get_cell(cell, act)
    H = 6  # N = 1: the LSTM's one-row step
    a_t = rng.standard_normal((N, c.gates * H)).astype(np.float32) * 4
    a_t[0, ::2] = -200.0  # σ(-200): e^200 overflows float32 (every other unit of each gate)
    W_hh_T = rng.standard_normal((H, c.gates * H)).astype(np.float32) * 0.3
    b_hh = rng.standard_normal(c.gates * H).astype(np.float32) if c.hidden_bias else None
    state = tuple(rng.standard_normal((N, H)).astype(np.float32) for _ in range(c.state_size))
    trained, cache = c.step_forward(a_t, state, W_hh_T, b_hh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from the overflow
        with np.errstate(over="ignore"):
            h_out = np.empty((N, H), dtype=np.float32)
            inferred, none = c.step_forward(a_t, state, W_hh_T, b_hh, h_out, keep_cache=False)
    assert cache is not None and none is None and inferred[0] is h_out
    for s_train, s_infer in zip(trained, inferred):
        np.testing.assert_array_equal(s_infer, s_train)


@pytest.mark.parametrize("cell,act", CELL_VARIANTS)
@pytest.mark.parametrize("sort", [True, False])
def test_scoring_runs_both_directions_at_once_with_the_same_results(monkeypatch, cell, act, sort):
    """Inside parallel.one_blas_thread (as scoring runs), a bidirectional layer of PAIR_MIN_ROWS rows or more runs
    its two directions at once (parallel.pair): outputs and final states are those of one direction after the
    other (and of the training pass) up to rounding, since the BLAS then runs one thread, which may round a
    product differently."""
    from rnncli.engine import parallel, recurrent

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    if not parallel.blas_threads().available:
        pytest.skip("NumPy's BLAS is not an OpenBLAS whose threads can be set")
    rng = np.random.default_rng(4)
    spec = ModelSpec(vocab_size=9, num_classes=2, cell=cell, activation=act, embedding_dim=4, hidden_size=5,
                     num_layers=2, bidirectional=True)
    params = init_params(spec, rng, np.float32)
    lengths = rng.integers(0, 8, size=recurrent.PAIR_MIN_ROWS + 3)
    ids, mask = _batch(spec, rng, sorted(lengths, reverse=True) if sort else lengths, T=7)
    x = params["embedding.weight"][ids]
    pairs = []
    real_pair = parallel.pair
    monkeypatch.setattr(parallel, "pair", lambda f0, f1: pairs.append(1) or real_pair(f0, f1))
    one_after_the_other = stack_forward(x, mask, params, spec.stack, keep_cache=False)
    assert pairs == []
    with parallel.one_blas_thread():
        at_once = stack_forward(x, mask, params, spec.stack, keep_cache=False)
        assert stack_forward(x[:-4], mask[:-4], params, spec.stack, keep_cache=False) is not None
    assert pairs == [1, 1]  # one per layer; the batch of PAIR_MIN_ROWS - 1 rows ran one direction at a time
    training = stack_forward(x, mask, params, spec.stack)
    for other in (one_after_the_other, training):
        np.testing.assert_allclose(at_once[0], other[0], rtol=1e-5, atol=1e-6)
        for layer, layer_other in zip(at_once[1], other[1]):
            for state, state_other in zip(layer, layer_other):
                for a, b in zip(state, state_other):
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("task,bidirectional,batch_size,paired", [
    ("classify", True, 256, True), ("tag", True, 256, True), ("classify", True, 64, False),
    ("classify", False, 256, False)])
def test_task_scoring_pairs_the_directions_of_bidirectional_models(monkeypatch, task, bidirectional, batch_size,
                                                                   paired):
    """Task.score enters parallel.one_blas_thread for a bidirectional model and batches of PAIR_MIN_ROWS or more,
    gives the BLAS its threads back afterwards, and scores what it scores one direction at a time."""
    from rnncli.engine import parallel, recurrent
    from rnncli.tasks import task_of
    from rnncli.tasks.base import Dataset

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    blas = parallel.blas_threads()
    if not blas.available:
        pytest.skip("NumPy's BLAS is not an OpenBLAS whose threads can be set")
    rng = np.random.default_rng(6)
    spec = task_of(task).model_spec(vocab_size=9, num_classes=3, cell="lstm", embedding_dim=4, hidden_size=5,
                                    bidirectional=bidirectional)
    params = init_params(spec, rng, np.float32)
    data = Dataset(ids=[rng.integers(2, 9, size=n) for n in rng.integers(1, 9, size=300)])
    before = blas.get()
    pairs = []
    real_pair = parallel.pair
    monkeypatch.setattr(parallel, "pair", lambda f0, f1: pairs.append(blas.get()) or real_pair(f0, f1))
    scored = task_of(task).score(params, spec, data, batch_size=batch_size)
    assert blas.get() == before
    assert bool(pairs) == paired and set(pairs) <= {1}
    monkeypatch.setattr(recurrent, "PAIR_MIN_ROWS", 10**9)
    alone = task_of(task).score(params, spec, data, batch_size=batch_size)
    for a, b in zip(scored.outputs, alone.outputs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
