"""rnn export"""

from __future__ import annotations

from pathlib import Path

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, app
from rnncli.cli.common import LAST, open_run


@app.command(name="export", help="""Write a trained model for another framework: PyTorch or ONNX.

--format torch writes an .npz (no pickles) whose names and shapes are exactly the state_dict() of
a PyTorch module with attributes embedding (nn.Embedding; absent for one-hot input), rnn
(nn.RNN/nn.LSTM/nn.GRU, batch_first=True) and head (nn.Linear); the module class is in the
docstring of rnncli.tools.export. Load it with load_state_dict({k: torch.from_numpy(v) for k, v in
np.load(FILE).items()}, strict=True). PyTorch is not needed to export. Beside the weights it writes
model.py and NAME.json, with which PyTorch alone predicts what rnn predict prints:
python -c "from model import load; print(load('DIR').predict(['movie was good']))". --format
safetensors writes the same tensors as NAME.safetensors (needs pip install safetensors).

--format onnx writes the whole model as an ONNX graph (ONNX's RNN/LSTM/GRU operators; needs
pip install 'rnncli[onnx]'): inputs ids int64 (N, T), right-padded with 0, and lengths int64 (N,);
output scores float32, the probabilities rnn predict prints (classify, tag, lm) or the value
(regress). The vocabulary, labels and tokenizer settings are in the graph's metadata ("rnncli") and
in NAME.vocab.json beside it.

\b
Example:  rnn export runs/sentiment-toy --format torch --out sentiment-toy.npz
          rnn export runs/sentiment-toy --format onnx --out sentiment-toy.onnx
""")
def export(
    run: Path = typer.Argument(..., metavar="RUN", help="Run directory written by rnn train."),
    format_: str = typer.Option(..., "--format", "-f", metavar="FORMAT", help="torch, safetensors or onnx."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (.npz, .safetensors or .onnx); replaced if it exists."),
    last: bool = LAST,
    json_: bool = JSON,
) -> None:
    from rnncli.tools.export import check_format, export_run

    check_format(format_)  # before loading the run, so a typo is reported first
    result = export_run(open_run(run, last), format_, out)
    if json_:
        render.print_json(result.to_dict())
        return
    render.line(f"wrote {result.out} ({result.format}, {len(result.tensors)} tensors) from {run}")
    if result.format == "onnx":
        from rnncli.tools.export import vocab_path

        for line in result.usage:
            render.line(f"  {line}")
        render.line(f"  vocabulary, labels and tokenizer settings: {vocab_path(result.out)} (and the graph's metadata)")
    else:
        render.line("PyTorch module (the class is in the docstring of rnncli.tools.export):")
        for code in result.usage:
            render.line(f"    {code}")
    render.table(["tensor", "shape"], [[name, "×".join(map(str, shape))] for name, shape in result.tensors])
