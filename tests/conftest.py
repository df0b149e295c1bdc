"""Shared fixtures: an in-process CLI runner, scratch workspaces, and one trained toy model.

A *workspace* is a temporary directory that holds links to the repository's
``datasets/`` and ``configs/`` folders, so the configs' relative paths
(``datasets/toy/...``) work and ``runs/`` is written inside the temp directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rnncli.cli import main

REPO = Path(__file__).resolve().parent.parent
TOY_CONFIG = "configs/sentiment-toy.yaml"
TOY_RUN = Path("runs") / "sentiment-toy"  # where TOY_CONFIG trains to (run.dir is null)


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()

    def json(self):
        return json.loads(self.out)

    def jsonl(self) -> list[dict]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def link_repo_folders(dest: Path) -> None:
    """Make ``dest/datasets`` and ``dest/configs`` point at the repository's (copy if links are not allowed)."""
    for name in ("datasets", "configs"):
        target = dest / name
        try:
            target.symlink_to(REPO / name, target_is_directory=True)
        except OSError:
            shutil.copytree(REPO / name, target)


def invoke(args: list[str], stdin: str | None = None) -> CliResult:
    """Run ``rnn ARGS`` in-process with redirected streams (usable outside function-scoped fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        sys.stdin = old_stdin
    return CliResult(int(code), out.getvalue(), err.getvalue())


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args, stdin=None) -> CliResult``: run ``rnn`` in-process, capturing stdout and stderr."""

    def run(*args, stdin: str | None = None) -> CliResult:
        capsys.readouterr()  # drop anything printed before this call
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(int(code), captured.out, captured.err)

    return run


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A fresh temp directory with datasets/ and configs/ linked in; the test runs inside it."""
    link_repo_folders(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@dataclass
class TrainedToy:
    workspace: Path  # holds runs/sentiment-toy; do not write here
    run_dir: Path  # absolute path of the run directory
    result: CliResult  # of `rnn train --config configs/sentiment-toy.yaml --json`


@pytest.fixture(scope="session")
def trained_toy(tmp_path_factory) -> TrainedToy:
    """The toy sentiment model trained once with its full default config (~1 s). Read-only for tests:
    copy ``run_dir`` before changing anything in it."""
    ws = tmp_path_factory.mktemp("trained")
    link_repo_folders(ws)
    with contextlib.chdir(ws):
        result = invoke(["train", "--config", TOY_CONFIG, "--json"])
    assert result.code == 0, result.err
    return TrainedToy(ws, ws / TOY_RUN, result)


@pytest.fixture
def toy_run(trained_toy) -> Path:
    """Absolute path of the trained toy run directory (read-only)."""
    return trained_toy.run_dir


@pytest.fixture
def run_copy(trained_toy, tmp_path) -> Path:
    """A writable copy of the trained toy run, for tests that damage it."""
    dest = tmp_path / "run-copy"
    shutil.copytree(trained_toy.run_dir, dest)
    return dest

