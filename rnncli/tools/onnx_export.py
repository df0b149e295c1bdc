"""Export a trained sequence model as an ONNX graph, built with ONNX's own RNN, LSTM and GRU operators.

The graph (opset 17) computes what ``rnn predict`` computes, from token ids:

    inputs   ids      int64 (N, T)   the ids ``rnn predict --json`` prints, right-padded with 0 (<pad>)
             lengths  int64 (N,)     the real tokens of each row (≥ 1)
    output   scores   float32        classify (N, C): the probability of each label, in the metadata's
                                     order (two labels: [1 − σ(z), σ(z)], as ``rnn predict``);
                                     tag (N, T, C) and lm (N, T, V): a distribution per position
                                     (rows beyond a sequence's length are padding: ignore them);
                                     regress (N, 1): the predicted value

Layer by layer: ``Gather`` from the embedding table (or from the one-hot table I[:, 2:] for
``model.input: onehot``); one ``RNN``/``LSTM``/``GRU`` node per layer, time-major, with
``sequence_lens`` = lengths, so that a padded row gives exactly what it gives alone (outputs past a
row's length are 0, and ``Y_h`` is the state at its last real token; the reverse direction starts
there); then the summary (``Y_h`` of the top layer, or the mean or max of its outputs over real
tokens, or all three side by side for ``model.pooling: concat``) or every step's output, the linear
head, and a sigmoid or softmax.

Weights are remapped to ONNX's layouts: W [dirs, G·H, D], R [dirs, G·H, H], B [dirs, 2·G·H] = [Wb, Rb].
ONNX's gate orders differ from ours (PyTorch's): LSTM [i, o, f, c] from our [i, f, g, o], GRU
[z, r, h] from our [r, z, n]; the GRU uses ``linear_before_reset=1``, which is PyTorch's
r ⊙ (W_hn h + b_hn). Our single bias b of RNN and LSTM is Wb, with Rb = 0. A learned initial state
(``model.learn_h0``) is expanded to the batch as ``initial_h``/``initial_c``.

The vocabulary, labels and tokenizer settings travel in the model's ``metadata_props`` (``rnncli``:
one JSON object with ``vocab`` (the tokens in id order), ``labels``, ``task``, ``tokenizer``,
``lowercase``, ``unk_id``, ``pad_id``, ``version``) so that the ``.onnx`` file alone can turn text
into ids; the same object is written beside it as ``<name>.vocab.json``.

Refused, with a message: word features (``model.prefix/suffix/shape``), real-valued feature input
(``model.input: features``), and the encoder–decoder and generator (two graphs and a decoding loop).
"""

from __future__ import annotations

import json
import re
import numpy as np

from rnncli import __version__
from rnncli.errors import UsageError
from rnncli.models import ModelSpec
from rnncli.models.spec import POOLED

OPSET = 17
WEIGHT = re.compile(r"^(embedding|onehot|[WRB]\d+|[hc]0\d+|head_[Wb])$")  # initializers that hold the model
INSTALL_HINT = "install the ONNX extra: pip install 'rnncli[onnx]' (onnx, and onnxruntime to run the graph)"
# ONNX's gate blocks, as indices into ours
GATE_ORDER = {"rnn": [0], "lstm": [0, 3, 1, 2], "gru": [1, 0, 2]}


def require_onnx():
    try:
        import onnx
    except ImportError:
        raise UsageError("--format onnx needs the onnx package, which is not installed.", hint=INSTALL_HINT + ".") from None
    return onnx


def check_exportable(spec: ModelSpec, where) -> None:
    """Refuse what the graph cannot compute, before anything is written."""
    if spec.architecture != "sequence":
        raise UsageError(f"{where} is a {spec.task} model; the ONNX export maps one recurrent stack with a linear head, "
                         "and this model has more (an encoder–decoder or a conditioned generator needs a decoding loop).",
                         hint="read the run's weights.npz directly; `rnn summary --model RUN` lists the names and shapes.")
    if spec.word_features:
        raise UsageError(f"{where} has word features ({', '.join(n for n, _ in spec.word_features)}); the ONNX graph "
                         "takes token ids only, and computing prefixes, suffixes and shapes needs the text.",
                         hint="train without model.prefix/suffix/shape to export to ONNX, or use rnn predict / rnn serve.")
    if spec.input == "features":
        raise UsageError(f"{where} reads real-valued features (model.input: features); the ONNX graph takes token ids.",
                         hint="read the run's weights.npz directly (`rnn summary --model RUN` lists the names and "
                              "shapes), or predict with rnn predict --data FILE or rnn serve.")


def _gates(W: np.ndarray, cell: str) -> np.ndarray:
    """Row blocks of W (G·H, ·) reordered into ONNX's gate order."""
    blocks = np.split(W, len(GATE_ORDER[cell]), axis=0)
    return np.concatenate([blocks[g] for g in GATE_ORDER[cell]], axis=0)


def _layer_weights(params: dict, spec: ModelSpec, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W, R, B of layer k in ONNX's layout, float32."""
    stack = spec.stack
    Ws, Rs, Bs = [], [], []
    for d in range(stack.directions):
        name = f"rnn.l{k}{'_reverse' if d else ''}"
        Ws.append(_gates(params[f"{name}.W_ih"], spec.cell))
        Rs.append(_gates(params[f"{name}.W_hh"], spec.cell))
        if spec.cell == "gru":
            Bs.append(np.concatenate([_gates(params[f"{name}.b_ih"][:, None], "gru")[:, 0],
                                      _gates(params[f"{name}.b_hh"][:, None], "gru")[:, 0]]))
        else:
            b = _gates(params[f"{name}.b"][:, None], spec.cell)[:, 0]
            Bs.append(np.concatenate([b, np.zeros_like(b)]))
    return tuple(np.stack(x).astype(np.float32) for x in (Ws, Rs, Bs))


def onnx_graph(spec: ModelSpec, params: dict, metadata: dict):
    """The ONNX ModelProto of a sequence model (see the module docstring)."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    check_exportable(spec, "the model")
    stack = spec.stack
    H, dirs = stack.hidden_size, stack.directions
    nodes, inits = [], []

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        nodes.append(helper.make_node(op, inputs, outputs, **attrs))

    # inputs → time-major features (T, N, D)
    if stack.onehot:  # column j of the one-hot input stands for token id j + 2 (<pad>, <unk> are zero)
        table = const("onehot", np.eye(spec.vocab_size, dtype=np.float32)[:, 2:])
    else:
        table = const("embedding", params["embedding.weight"].astype(np.float32))
    node("Gather", [table, "ids"], ["x_bt"], axis=0)
    node("Transpose", ["x_bt"], ["x0"], perm=[1, 0, 2])
    node("Cast", ["lengths"], ["seq_lens"], to=TensorProto.INT32)
    node("Shape", ["ids"], ["ids_shape"])
    node("Gather", ["ids_shape", const("zero", np.array([0], dtype=np.int64))], ["batch"], axis=0)

    op = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[spec.cell]
    attrs = {"hidden_size": H, "direction": "bidirectional" if dirs == 2 else "forward"}
    if spec.cell == "rnn":
        attrs["activations"] = [{"tanh": "Tanh", "relu": "Relu"}[spec.activation]] * dirs
    if spec.cell == "gru":
        attrs["linear_before_reset"] = 1
    x = "x0"
    for k in range(stack.num_layers):
        W, R, B = _layer_weights(params, spec, k)
        inputs = [x, const(f"W{k}", W), const(f"R{k}", R), const(f"B{k}", B), "seq_lens"]
        if spec.learn_h0:
            for part in stack.state_names:  # (dirs, 1, H) → (dirs, N, H)
                start = np.stack([params[f"rnn.l{k}{'_reverse' if d else ''}.{part}"] for d in range(dirs)])
                shape = f"state_shape{k}{part}"
                node("Concat", [const(f"dirs{k}{part}", np.array([dirs], dtype=np.int64)), "batch",
                                const(f"H{k}{part}", np.array([H], dtype=np.int64))], [shape], axis=0)
                node("Expand", [const(f"{part}{k}", start[:, None, :].astype(np.float32)), shape], [f"init_{part}{k}"])
                inputs.append(f"init_{part}{k}")
        outputs = [f"Y{k}", f"Y_h{k}"] + ([f"Y_c{k}"] if spec.cell == "lstm" else [])
        node(op, inputs, outputs, **attrs)
        node("Transpose", [f"Y{k}"], [f"Y{k}_tn"], perm=[0, 2, 1, 3])  # (T, N, dirs, H)
        node("Reshape", [f"Y{k}_tn", const(f"flat{k}", np.array([0, 0, -1], dtype=np.int64))], [f"x{k + 1}"])
        x = f"x{k + 1}"

    # the summary or every step → the head
    W_head = const("head_W", params["head.W"].T.astype(np.float32))
    b_head = const("head_b", params["head.b"].astype(np.float32))
    top = stack.num_layers - 1
    if spec.per_step:
        node("MatMul", [x, W_head], ["z_tn"])
        node("Add", ["z_tn", b_head], ["z_tn_b"])
        node("Transpose", ["z_tn_b"], ["z"], perm=[1, 0, 2])  # (N, T, O)
    else:
        parts = POOLED[spec.pooling]
        if "last" in parts:
            node("Transpose", [f"Y_h{top}"], ["h_n"], perm=[1, 0, 2])  # (N, dirs, H): [forward, backward]
            node("Reshape", ["h_n", const("flat_h", np.array([0, -1], dtype=np.int64))], ["pooled_last"])
        if "mean" in parts or "max" in parts:  # over real tokens: real[t, n] = t < lengths[n]
            node("Shape", [x], ["x_shape"])
            node("Gather", ["x_shape", const("zero_t", np.array(0, dtype=np.int64))], ["T"], axis=0)
            node("Range", [const("t0", np.array(0, dtype=np.int64)), "T", const("t1", np.array(1, dtype=np.int64))], ["steps"])
            node("Unsqueeze", ["steps", const("axis1", np.array([1], dtype=np.int64))], ["steps_col"])
            node("Less", ["steps_col", "lengths"], ["real"])  # (T, N)
            node("Unsqueeze", ["real", const("axis2", np.array([2], dtype=np.int64))], ["real3"])
        if "mean" in parts:
            node("Cast", ["real3"], ["realf"], to=TensorProto.FLOAT)
            node("Mul", [x, "realf"], ["masked"])
            node("ReduceSum", ["masked", const("axis0", np.array([0], dtype=np.int64))], ["total"], keepdims=0)
            node("Cast", ["lengths"], ["lengthsf"], to=TensorProto.FLOAT)
            node("Unsqueeze", ["lengthsf", const("axis1b", np.array([1], dtype=np.int64))], ["lengths_col"])
            node("Div", ["total", "lengths_col"], ["pooled_mean"])
        if "max" in parts:
            node("Where", ["real3", x, const("minus_inf", np.array(-np.inf, dtype=np.float32))], ["masked_inf"])
            node("ReduceMax", ["masked_inf"], ["pooled_max"], axes=[0], keepdims=0)
        node("Concat", [f"pooled_{part}" for part in parts], ["summary"], axis=1)  # (N, F · parts)
        node("Gemm", ["summary", W_head, b_head], ["z"])
    if spec.output == "value":
        node("Identity", ["z"], ["scores"])
    elif spec.num_outputs == 1:  # two classes from one logit: [1 − σ(z), σ(z)]
        node("Sigmoid", ["z"], ["p1"])
        node("Sub", [const("one", np.array(1.0, dtype=np.float32)), "p1"], ["p0"])
        node("Concat", ["p0", "p1"], ["scores"], axis=1)
    else:
        node("Softmax", ["z"], ["scores"], axis=-1)

    dims = ["N", "T", "O"] if spec.per_step else ["N", "O"]
    graph = helper.make_graph(
        nodes, f"rnncli_{spec.task}_{spec.cell}",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", "T"]),
         helper.make_tensor_value_info("lengths", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, dims)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="rnncli", producer_version=__version__)
    helper.set_model_props(model, {"rnncli": json.dumps(metadata, ensure_ascii=False)})
    onnx.checker.check_model(model)
    return model


def run_metadata(run) -> dict:
    """What turns text into the graph's inputs and its outputs into labels."""
    return {"format": "rnncli-onnx", "version": __version__, "task": run.spec.task,
            "tokenizer": run.tokenizer, "lowercase": run.lowercase, "reverse": run.reverse, "pad_id": 0, "unk_id": 1,
            "vocab": list(run.vocab.itos),
            "labels": run.labels.to_dict()["labels"]}


def signature(spec: ModelSpec, labels: list[str]) -> list[str]:
    """The graph's inputs and output, in words."""
    if spec.output == "value":
        out = "scores float32 (N, 1): the predicted value"
    elif spec.per_step:
        out = (f"scores float32 (N, T, {spec.num_classes}): a distribution at every position (over the tags, or "
               "the next token); rows past a sequence's length are padding")
    else:
        shown = ", ".join(labels[:6]) + (", …" if len(labels) > 6 else "")
        out = f"scores float32 (N, {len(labels)}): the probability of each label ({shown})"
    return ["inputs: ids int64 (N, T), right-padded with 0; lengths int64 (N,)", f"output: {out}"]


def is_weight(name: str) -> bool:
    """Whether an initializer of the graph holds the model (not a shape or index constant)."""
    return WEIGHT.match(name) is not None
