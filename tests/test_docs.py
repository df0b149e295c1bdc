"""The docs stay true: the generated reference matches --help (and the schema and the code), the
README opens with the two commands, and every exit code is listed."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from rnncli.cli import docs, load_commands
from rnncli.errors import ExitCode

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_command_reference_is_current():
    assert docs.update(ROOT, check=True), "the docs are stale: run `python -m rnncli.cli.docs`"


def test_readme_opens_with_install_and_test_commands():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert block == [
        "pip install . && rnn train --config configs/sentiment-toy.yaml",
        "pip install -e '.[test]' && pytest",
    ]
    assert text.index("```bash") < text.index("##")  # before any section


def test_every_exit_code_is_documented():
    table = (ROOT / "docs/exit-codes.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", table, re.M), code


def test_every_command_has_an_example_in_its_help():
    for name, text in docs._walk(typer.main.get_command(load_commands()), ["rnn"], None):
        if "COMMAND [ARGS]" in text and name != "rnn":
            continue  # groups list their commands
        assert "Example" in text, f"`{name} --help` has no example"
