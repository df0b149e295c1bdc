"""rnn export"""

from __future__ import annotations

from pathlib import Path

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, app
from rnncli.cli.common import LAST, open_run


@app.command(name="export", help="""Write a trained model's weights for another framework.

--format torch writes an .npz (no pickles) whose names and shapes are exactly the state_dict() of
a PyTorch module with attributes embedding (nn.Embedding; absent for one-hot input), rnn
(nn.RNN/nn.LSTM/nn.GRU, batch_first=True) and head (nn.Linear); the module class is in the
docstring of rnncli.tools.export. Load it with load_state_dict({k: torch.from_numpy(v) for k, v in
np.load(FILE).items()}, strict=True). PyTorch is not needed to export.

\b
Example:  rnn export runs/sentiment-toy --format torch --out sentiment-toy.npz
""")
def export(
    run: Path = typer.Argument(..., metavar="RUN", help="Run directory written by rnn train."),
    format_: str = typer.Option(..., "--format", "-f", metavar="FORMAT", help="Target framework: torch."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (.npz); replaced if it exists."),
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
    render.line("PyTorch module (the class is in the docstring of rnncli.tools.export):")
    for code in result.module_code:
        render.line(f"    {code}")
    render.table(["tensor", "shape"], [[name, "×".join(map(str, shape))] for name, shape in result.tensors])
