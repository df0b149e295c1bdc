"""Export a trained run's weights under PyTorch's ``state_dict()`` names and shapes.

The exported ``.npz`` (no pickles) loads with ``load_state_dict(strict=True)`` into this module,
which computes exactly what :func:`rnncli.models.sequence.forward` computes in evaluation (float64 agrees
to ~1e-12; tests/test_torch_parity.py executes this very listing)::

    import torch
    from torch import nn

    class RnncliModel(nn.Module):
        # V vocab (incl. <pad>=0, <unk>=1), D embedding_dim, H hidden_size, O outputs (head rows)
        def __init__(self, V, D, H, O, cell="rnn", nonlinearity="tanh", num_layers=1,
                     bidirectional=False, dropout=0.0, onehot=False, pooling="last", per_step=False):
            super().__init__()
            self.V, self.onehot, self.pooling, self.per_step = V, onehot, pooling, per_step
            if not onehot:
                self.embedding = nn.Embedding(V, D)
            kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
            self.rnn = kind(V - 2 if onehot else D, H, num_layers=num_layers, batch_first=True,
                            bidirectional=bidirectional, dropout=dropout, **extra)
            parts = 3 if pooling == "concat" else 1  # concat: [last, max, mean]
            self.head = nn.Linear(H * (2 if bidirectional else 1) * parts, O)

        def forward(self, ids, lengths):        # ids (N, T) int64 right-padded with 0; lengths (N,)
            if self.onehot:                     # width V-2: column j is token id j+2
                x = nn.functional.one_hot(ids, self.V)[..., 2:].to(self.head.weight.dtype)
            else:
                x = self.embedding(ids)
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            out, h_n = self.rnn(packed)
            y, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
            if self.per_step:                   # task tag / lm: (N, T, O), pads are zeros
                return self.head(y)
            h_n = h_n[0] if isinstance(h_n, tuple) else h_n         # LSTM: (h_n, c_n)
            dirs = 2 if self.rnn.bidirectional else 1
            real = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths.to(ids.device)[:, None]
            pooled = {"last": lambda: torch.cat(list(h_n[-dirs:]), dim=1),     # [forward, backward]
                      "max": lambda: y.masked_fill(~real[..., None], float("-inf")).amax(1),
                      "mean": lambda: y.sum(1) / lengths.to(y)[:, None]}
            parts = ["last", "max", "mean"] if self.pooling == "concat" else [self.pooling]
            return self.head(torch.cat([pooled[p]() for p in parts], dim=1))   # (N, O)

``O`` = ``ModelSpec.num_outputs``: one logit for two classes (``BCEWithLogitsLoss``, p(class 1)
= σ(z)) and for regress (``MSELoss``), else one per class (``CrossEntropyLoss``).
``per_step`` is True for the tag and lm tasks. :func:`torch_module_code` gives the constructor
call for a given model.

Name mapping (ours → PyTorch's), per layer ``k`` and direction suffix ``_reverse``:

    embedding.weight           → embedding.weight                    (absent for one-hot input)
    rnn.l{k}[_reverse].W_ih    → rnn.weight_ih_l{k}[_reverse]
    rnn.l{k}[_reverse].W_hh    → rnn.weight_hh_l{k}[_reverse]
    rnn.l{k}[_reverse].b       → rnn.bias_ih_l{k}[_reverse] = b,  rnn.bias_hh_l{k}[_reverse] = 0   (RNN, LSTM)
    rnn.l{k}[_reverse].b_ih    → rnn.bias_ih_l{k}[_reverse]                                          (GRU)
    rnn.l{k}[_reverse].b_hh    → rnn.bias_hh_l{k}[_reverse]                                          (GRU)
    head.W, head.b             → head.weight, head.bias

Gate row blocks are already PyTorch's ([i, f, g, o] for LSTM, [r, z, n] for GRU). PyTorch's
``b_ih + b_hh`` is our single ``b`` for RNN and LSTM, so ``bias_hh`` is exported as zeros (a
model fine-tuned in PyTorch may move both; their sum is what counts).

One-hot input: our layer-0 ``W_ih`` has V-2 columns, because ids 0 (``<pad>``) and 1 (``<unk>``)
encode as the zero vector. The PyTorch module therefore has no embedding and must be fed one-hot
vectors of width V-2 whose column j stands for token id j+2, i.e. ``one_hot(ids, V)[..., 2:]``.

Parameters the PyTorch module cannot hold (e.g. learned initial states ``rnn.l{k}.h0``/``.c0``)
make :func:`torch_state_dict` raise :class:`RunError` rather than silently drop them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncli.errors import RunError, UsageError
from rnncli.fileio import save_outputs
from rnncli.models import ModelSpec

FORMATS = ("torch", "onnx", "safetensors")

_RNN_NAME = re.compile(r"^rnn\.l(\d+)(_reverse)?\.(W_ih|W_hh|b|b_ih|b_hh)$")
_SIMPLE = {"embedding.weight": "embedding.weight", "head.W": "head.weight", "head.b": "head.bias"}
_RNN_PART = {"W_ih": ("weight_ih",), "W_hh": ("weight_hh",), "b": ("bias_ih", "bias_hh"),
             "b_ih": ("bias_ih",), "b_hh": ("bias_hh",)}


def torch_names(name: str) -> tuple[str, ...] | None:
    """The PyTorch ``state_dict`` names one of our parameters fills, or None if it has none.

    ``rnn.l0.b`` fills two (``rnn.bias_ih_l0`` = b, ``rnn.bias_hh_l0`` = 0); every other name one.
    """
    if name in _SIMPLE:
        return (_SIMPLE[name],)
    m = _RNN_NAME.match(name)
    if m is None:
        return None
    layer, reverse, part = m.groups()
    return tuple(f"rnn.{p}_l{layer}{reverse or ''}" for p in _RNN_PART[part])


def torch_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Names and shapes of ``state_dict()`` of the matching PyTorch module, in its order."""
    shapes: dict[str, tuple[int, ...]] = {}
    stack = spec.stack
    if not stack.onehot:
        shapes["embedding.weight"] = (spec.vocab_size, spec.embedding_dim)
    G, H = stack.cell_type.gates, stack.hidden_size
    for k, _, prefix in stack.layer_names():
        suffix = prefix.split(".")[1][1:]  # "l1_reverse" -> "1_reverse"
        D = stack.input_size if k == 0 else stack.output_size
        shapes[f"rnn.weight_ih_l{suffix}"] = (G * H, D)
        shapes[f"rnn.weight_hh_l{suffix}"] = (G * H, H)
        shapes[f"rnn.bias_ih_l{suffix}"] = (G * H,)
        shapes[f"rnn.bias_hh_l{suffix}"] = (G * H,)
    shapes["head.weight"] = (spec.num_outputs, spec.summary_size)
    shapes["head.bias"] = (spec.num_outputs,)
    return shapes


def torch_module_code(spec: ModelSpec) -> list[str]:
    """Python source lines for the PyTorch module's three attributes, and a comment on its forward."""
    stack = spec.stack
    kind = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}[spec.cell]
    extra = f", nonlinearity={spec.activation!r}" if spec.cell == "rnn" else ""
    if spec.dropout and stack.num_layers > 1:  # PyTorch warns about dropout with one layer (no effect)
        extra = f", dropout={spec.dropout!r}" + extra
    lines = [] if stack.onehot else [f"self.embedding = nn.Embedding({spec.vocab_size}, {spec.embedding_dim})"]
    lines.append(f"self.rnn = {kind}({stack.input_size}, {stack.hidden_size}, num_layers={stack.num_layers}, "
                 f"batch_first=True, bidirectional={stack.bidirectional}{extra})")
    lines.append(f"self.head = nn.Linear({spec.summary_size}, {spec.num_outputs})")
    inputs = f"one_hot(ids, {spec.vocab_size})[..., 2:]" if stack.onehot else "embedding(ids)"
    if spec.per_step:
        summary = "every step's output (pad_packed_sequence)"
    elif spec.pooling == "last":
        summary = "h_n of the top layer" + (" ([forward, backward] concatenated)" if stack.bidirectional else "")
    elif spec.pooling == "concat":
        summary = "[h_n of the top layer, the max and the mean of its outputs over real tokens]"
    else:
        summary = f"the {spec.pooling} of the top layer's outputs over real tokens"
    lines.append(f"# forward: {inputs} → packed sequence → rnn → {summary} → head")
    return lines


def torch_state_dict(params: dict[str, np.ndarray], spec: ModelSpec) -> dict[str, np.ndarray]:
    """Our parameters under PyTorch's names and shapes (see the module docstring), in its order.

    Raises :class:`UsageError` when ``params`` holds tensors the PyTorch module has no place for, and
    :class:`RunError` when it lacks ones it needs or their shapes differ.
    """
    unsupported = sorted(k for k in params if torch_names(k) is None)
    if unsupported:
        initial = [k for k in unsupported if k.endswith((".h0", ".c0"))]
        hint = ("nn.RNN, nn.LSTM and nn.GRU hold only weights and biases: export a model trained without "
                "these parameters, or read them from the run's weights.npz yourself")
        if initial:
            hint += (" (learned initial states are model.learn_h0; in PyTorch, stack the .h0 vectors in the order "
                     "l0, l0_reverse, l1, … and expand them to (layers·directions, N, H) as the h_0 argument of "
                     "forward, and the .c0 vectors as c_0)")
        raise UsageError(  # a model the format cannot represent, as the ONNX export's refusals
            f"cannot export to PyTorch: the model has parameters nn.Embedding/nn.{_torch_cell(spec)}/nn.Linear "
            f"cannot hold: {', '.join(unsupported)}.",
            hint=hint + ".",
        )
    expected = torch_shapes(spec)
    out: dict[str, np.ndarray] = {}
    for name, value in params.items():
        targets = torch_names(name)
        value = np.ascontiguousarray(value)
        out[targets[0]] = value
        for extra in targets[1:]:  # bias_hh of RNN/LSTM: PyTorch adds it to bias_ih, we have one bias
            out[extra] = np.zeros_like(value)
    problems = [f"{k} missing" for k in expected if k not in out]
    problems += [f"unexpected {k}" for k in out if k not in expected]
    problems += [f"{k} has shape {out[k].shape}, expected {s}" for k, s in expected.items()
                 if k in out and out[k].shape != s]
    if problems:
        raise RunError(
            f"the weights do not match the model they were exported for ({'; '.join(problems[:3])}).",
            hint="check that the parameters come from this model spec (e.g. reload the run with rnn summary --model RUN).",
        )
    return {k: out[k] for k in expected}


def _torch_cell(spec: ModelSpec) -> str:
    return {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[spec.cell]


@dataclass
class ExportResult:
    out: Path
    format: str
    tensors: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    usage: list[str] = field(default_factory=list)  # how to use it: the PyTorch module code, or the graph's signature

    def to_dict(self) -> dict:
        return {"out": str(self.out), "format": self.format,
                "tensors": [{"name": n, "shape": list(s)} for n, s in self.tensors]}


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}.",
                         hint="e.g. rnn export RUN --format torch --out model.npz")


def export_run(run, fmt: str, out_path: str | Path) -> ExportResult:
    """Write ``run``'s model in format ``fmt`` to ``out_path``, atomically: "torch" (or "safetensors"), the
    weights under PyTorch's names (.npz, or .safetensors), with model.py and NAME.json beside them, which
    predict with PyTorch alone (:mod:`rnncli.tools.torch_template`); "onnx", the whole graph
    (:mod:`rnncli.tools.onnx_export`) and NAME.vocab.json beside it."""
    check_format(fmt)
    out_path = _checked_out(Path(out_path), fmt)
    if fmt == "onnx":
        return _export_onnx(run, out_path)
    if run.spec.architecture != "sequence":
        why = {"encoder_decoder": "an encoder–decoder is two stacks with a bridge and attention",
               "generator": "a conditional generator also embeds its label into the stack's initial state"}
        raise UsageError(f"{run.path} is a {run.spec.task} model; export maps one nn.{_torch_cell(run.spec)} stack with an "
                         f"embedding and a linear head, and {why.get(run.spec.architecture, 'this model is not one')}.",
                         hint="read the run's weights.npz directly: `rnn summary --model RUN` lists the names and shapes.")
    if run.spec.input == "features":
        raise UsageError(f"{run.path} reads real-valued features (model.input: features); the exported module and its "
                         "model.py read token ids through an embedding.",
                         hint="read the run's weights.npz directly (`rnn summary --model RUN` lists the names and "
                              "shapes), or predict with rnn predict --data FILE or rnn serve.")
    state = torch_state_dict(run.params, run.spec)
    _check_model_py(out_path.with_name("model.py"))
    weights = _safetensors_writer(state) if fmt == "safetensors" else lambda f: np.savez(f, **state)
    save_outputs([(out_path, weights), *_torch_package(run, out_path)])
    return ExportResult(out_path, fmt, [(k, tuple(v.shape)) for k, v in state.items()], torch_module_code(run.spec))


SUFFIXES = {"torch": ".npz", "safetensors": ".safetensors", "onnx": ".onnx"}  # what each format writes


def _checked_out(out_path: Path, fmt: str) -> Path:
    suffix = SUFFIXES[fmt]
    if out_path.suffix.lower() != suffix:
        named = out_path.with_suffix(suffix) if out_path.stem and not out_path.name.startswith(".") \
            else out_path.with_name("model" + suffix)
        raise UsageError(f"--out {out_path}: --format {fmt} writes a {suffix} file.", hint=f"e.g. --out {named}")
    if out_path.is_dir():
        raise UsageError(f"--out {out_path} is a directory; give a file name.",
                         hint=f"e.g. --out {out_path / 'model.npz'}")
    if not out_path.parent.is_dir():
        raise UsageError(f"cannot write {out_path}: the directory {out_path.parent} does not exist.",
                         hint=f"create it first (mkdir -p {out_path.parent}) or choose another --out.")
    return out_path


def vocab_path(out_path: Path) -> Path:
    """Where the ONNX export writes its vocabulary and settings: model.onnx → model.vocab.json."""
    return out_path.with_name(out_path.stem + ".vocab.json")


def _export_onnx(run, out_path: Path) -> ExportResult:
    import json

    from rnncli.tools import onnx_export

    onnx_export.require_onnx()
    onnx_export.check_exportable(run.spec, run.path)
    metadata = onnx_export.run_metadata(run)
    model = onnx_export.onnx_graph(run.spec, run.params, metadata)
    text = json.dumps(metadata, ensure_ascii=False, indent=1) + "\n"
    save_outputs([(out_path, lambda f: f.write(model.SerializeToString())),
                  (vocab_path(out_path), lambda f: f.write(text.encode("utf-8")))])
    tensors = [(t.name, tuple(t.dims)) for t in model.graph.initializer if onnx_export.is_weight(t.name)]
    return ExportResult(out_path, "onnx", tensors, onnx_export.signature(run.spec, metadata["labels"]))


def module_listing() -> str:
    """The ``RnncliModel`` class listed in this module's docstring, as source code."""
    block = re.search(r"::\n\n(.*?)\n\n(?=\S)", __doc__, re.S).group(1)
    lines = block.splitlines()
    indent = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
    return "\n".join(x[indent:] for x in lines)


def torch_metadata(run, weights: str) -> dict:
    """NAME.json of a PyTorch export: the vocabulary, labels, tokenizer and the module's arguments."""
    from rnncli import __version__
    from rnncli.tasks import task_of

    spec = run.spec
    settings = task_of(spec.task).export_settings()
    if settings is None:
        raise UsageError(f"{run.path} is a {spec.task} model, whose predictions need more than the module.",
                         hint="read the run's weights.npz directly; `rnn summary --model RUN` lists the names and shapes.")
    return {"format": "rnncli-torch", "version": __version__, "task": spec.task, **settings,
            "tokenizer": run.tokenizer, "lowercase": run.lowercase, "reverse": run.reverse, "pad_id": 0, "unk_id": 1,
            "vocab": list(run.vocab.itos), "labels": run.labels.to_dict()["labels"], "weights": weights,
            "module": {"V": spec.vocab_size, "D": spec.embedding_dim, "H": spec.hidden_size, "O": spec.num_outputs,
                       "cell": spec.cell, "nonlinearity": spec.activation, "num_layers": spec.num_layers,
                       "bidirectional": spec.bidirectional, "dropout": spec.dropout if spec.num_layers > 1 else 0.0,
                       "onehot": spec.input == "onehot", "pooling": spec.pooling, "per_step": spec.per_step}}


def model_source() -> str:
    """model.py: the tokenizer, the module class and ``load``, for PyTorch alone."""
    import importlib
    import inspect

    from rnncli.tools.torch_template import TEMPLATE

    tokenizer = inspect.getsource(importlib.import_module("rnncli.data.tokenize"))
    tokenizer = tokenizer[tokenizer.index("import unicodedata"):]  # its docstring and __future__ import go
    return TEMPLATE.format(tokenizer=tokenizer.strip(), module=module_listing())


def _torch_package(run, out_path: Path) -> list:
    """NAME.json and model.py, to write beside NAME.npz: (path, writer) pairs for :func:`save_outputs`."""
    import json

    text = json.dumps(torch_metadata(run, out_path.name), ensure_ascii=False, indent=1) + "\n"
    source = model_source()
    return [(out_path.with_suffix(".json"), lambda f: f.write(text.encode("utf-8"))),
            (out_path.with_name("model.py"), lambda f: f.write(source.encode("utf-8")))]


def _safetensors_writer(state: dict[str, np.ndarray]):
    """A writer of the state_dict as .safetensors bytes (optional: needs the safetensors package)."""
    try:
        from safetensors.numpy import save
    except ImportError:
        raise UsageError("--format safetensors needs the safetensors package, which is not installed.",
                         hint="pip install safetensors, or use --format torch (an .npz with the same tensors).") from None
    data = save(state, metadata={"format": "pt"})
    return lambda f: f.write(data)


MODEL_PY_HEADER = '"""A recurrent model exported by rnncli'


def _check_model_py(path: Path) -> None:
    """An export replaces its own model.py, never someone else's."""
    if path.exists():
        try:
            ours = path.read_text(encoding="utf-8").startswith(MODEL_PY_HEADER)
        except (OSError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise UsageError(f"{path} exists and rnncli did not write it; the export writes its own model.py there.",
                             hint="export into a folder of its own, e.g. --out exported/model.npz.")
