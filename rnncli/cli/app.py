"""The Typer application objects; each command lives in its own module and registers here."""

from __future__ import annotations

import typer

from rnncli import __version__
from rnncli.cli import render

HELP = """Train, evaluate, serve and diagnose recurrent neural networks (RNN, LSTM, GRU) from YAML configs.

\b
Example:  rnn train --config configs/sentiment-toy.yaml && rnn predict "movie was good"
"""

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]})
vocab_app = typer.Typer(help="Build and inspect vocabularies.", no_args_is_help=True)
config_app = typer.Typer(help="Show and validate config files.", no_args_is_help=True)
data_app = typer.Typer(help="Make and inspect data sets.", no_args_is_help=True)
app.add_typer(vocab_app, name="vocab")
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")


def _version(value: bool) -> None:
    if value:
        render.line(f"rnncli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only results and errors (no progress, no notes)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the traceback of unexpected errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    render.QUIET = quiet


# Options shared by several commands.
JSON = typer.Option(False, "--json", help="Print JSON on stdout instead of a table.")
SET = typer.Option(None, "--set", metavar="KEY=VALUE", help="Override a config key, e.g. --set train.lr=0.1 (repeatable).")
