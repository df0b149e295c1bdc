"""The ``model.py`` that ``rnn export --format torch`` writes beside the weights: text, never imported here.

``{tokenizer}`` becomes the source of :mod:`rnncli.data.tokenize` and ``{module}`` the ``RnncliModel``
class listed in :mod:`rnncli.tools.export` (the one the PyTorch parity tests execute), so the file holds
one copy of each and needs nothing but PyTorch and NumPy.
"""

TEMPLATE = '''"""A recurrent model exported by rnncli (`rnn export RUN --format torch`); PyTorch and NumPy run it.

    from model import load
    m = load("DIR")                     # the folder of model.py, NAME.npz (or .safetensors) and NAME.json
    m.predict(["movie was good"])       # what `rnn predict --json` prints, one dict per text
    m.module                            # the torch.nn.Module (RnncliModel), in eval mode

NAME.json holds the vocabulary (token of each id), the labels, the tokenizer settings and the
module's constructor arguments; NAME.npz the weights, under the module's state_dict() names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

# ---------------------------------------------------------------- the tokenizer (rnncli.data.tokenize)

{tokenizer}

# ---------------------------------------------------------------- the module (rnncli.tools.export)

{module}

# ---------------------------------------------------------------- loading and predicting


class Predictor:
    """Text in, `rnn predict`'s dicts out: tokenize, look up ids (<unk> = 1), run the module, read its output."""

    def __init__(self, module: nn.Module, meta: dict):
        self.module, self.meta = module.eval(), meta
        self.stoi = {{token: i for i, token in enumerate(meta["vocab"])}}

    def encode(self, text: str) -> dict:
        tokens = tokenize(text, self.meta["tokenizer"], self.meta["lowercase"])
        if not tokens:
            raise ValueError(f"{{text!r}} has no tokens, so there is nothing to predict from")
        ids = [self.stoi.get(t, self.meta["unk_id"]) for t in tokens]
        return {{"text": text, "tokens": tokens, "ids": ids, "unknown": ids.count(self.meta["unk_id"])}}

    @torch.no_grad()
    def predict(self, texts: list[str]) -> list[dict]:
        inputs = [self.encode(text) for text in texts]
        lengths = torch.tensor([len(p["ids"]) for p in inputs])
        ids = torch.zeros((len(inputs), int(lengths.max())), dtype=torch.long)
        for n, p in enumerate(inputs):  # a backward language model (meta "reverse") reads the text backwards
            ids[n, : len(p["ids"])] = torch.tensor(p["ids"][::-1] if self.meta.get("reverse") else p["ids"])
        z = self.module(ids, lengths).double()
        kind, labels = self.meta["predicts"], self.meta["labels"]
        out = []
        for n, p in enumerate(inputs):
            L = len(p["ids"])
            if kind == "value":
                out.append({{**p, "value": float(z[n, 0])}})
                continue
            probs = _probabilities(z[n, :L] if kind in ("tags", "next") else z[n])
            if kind == "label":
                out.append({{**p, "label": labels[int(probs.argmax())], "scores": dict(zip(labels, map(float, probs)))}})
            elif kind == "tags":
                out.append({{**p, "tags": [labels[int(c)] for c in probs.argmax(-1)],
                            "scores": [float(q) for q in probs.max(-1).values]}})
            else:  # the likeliest next tokens after the text (before it, read backwards)
                last = probs[-1].numpy()
                top = np.argsort(-last, kind="stable")[: self.meta["top_k"]]
                out.append({{**p, "next": [{{"token": self.meta["vocab"][i], "probability": float(last[i])}} for i in top]}})
        return out


def _probabilities(z: torch.Tensor) -> torch.Tensor:
    """One logit: [1 - sigma(z), sigma(z)] (two classes); several: softmax."""
    if z.shape[-1] == 1:
        p1 = torch.sigmoid(z[..., 0])
        return torch.stack([1.0 - p1, p1], dim=-1)
    return torch.softmax(z, dim=-1)


def load(path: str | Path, name: str | None = None) -> Predictor:
    """The exported model in ``path``: a folder holding one export (or several, told apart by ``name``),
    or the export's NAME.json."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.glob("*.json") if _is_export(p) and (name is None or p.stem == name))
        if len(found) != 1:
            raise FileNotFoundError(f"{{path}} holds {{len(found)}} rnncli exports; pass name= (the NAME of NAME.json)")
        path = found[0]
    meta = json.loads(path.read_text(encoding="utf-8"))
    module = RnncliModel(**meta["module"])
    weights = path.with_name(meta["weights"])
    if weights.suffix == ".safetensors":
        from safetensors.torch import load_file

        module.load_state_dict(load_file(str(weights)), strict=True)
    else:
        with np.load(weights, allow_pickle=False) as npz:
            module.load_state_dict({{k: torch.from_numpy(npz[k]) for k in npz.files}}, strict=True)
    return Predictor(module, meta)


def _is_export(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == "rnncli-torch"
    except (ValueError, OSError, AttributeError):
        return False
'''
