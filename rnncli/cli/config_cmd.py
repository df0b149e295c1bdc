"""rnn config show | validate | keys"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import JSON, SET, config_app


@config_app.command("show", help="""Print the resolved config: every key, with defaults filled in.

\b
Example:  rnn config show configs/sentiment-toy.yaml --set model.cell=gru
""")
def show(
    config: Path = typer.Argument(..., help="YAML config file."),
    set_: Optional[list[str]] = SET,
    json_: bool = JSON,
) -> None:
    from rnncli.config import config_to_yaml, load_config

    cfg = load_config(config, set_ or [])
    if json_:
        render.print_json(cfg.to_dict())
    else:
        render.out().print(config_to_yaml(cfg), end="")


@config_app.command("validate", help="""Check config files and sweep files; every problem of each file is reported at once.

A file with the keys base and space is read as a sweep file (rnn sweep), its base config with it.
Exits 0 when all are valid, 3 (invalid config) otherwise.

\b
Example:  rnn config validate configs/*.yaml
""")
def validate(
    configs: list[Path] = typer.Argument(..., help="YAML config files."),
    json_: bool = JSON,
) -> int:
    from rnncli.config import load_config, read_yaml
    from rnncli.config.sweep import is_sweep, load_sweep
    from rnncli.errors import ConfigError, ExitCode

    results = []
    for path in configs:
        try:
            if is_sweep(read_yaml(path)):
                load_sweep(path)
            else:
                load_config(path)
            results.append({"config": str(path), "valid": True, "problems": []})
        except ConfigError as exc:
            problems = [{"key": k, "problem": p} for k, p in exc.problems] or [{"key": None, "problem": exc.message}]
            results.append({"config": str(path), "valid": False, "problems": problems})
            if not json_:
                render.error(exc)
    if json_:
        render.print_json(results)
    else:
        render.table(["config", "status"], [[r["config"], "ok" if r["valid"] else f"{len(r['problems'])} problem(s)"]
                                            for r in results], right=set())
    return ExitCode.OK if all(r["valid"] for r in results) else ExitCode.CONFIG


@config_app.command("keys", help="""List every config key with its type, default and help.

\b
Example:  rnn config keys | grep train.
""")
def keys(json_: bool = JSON) -> None:
    from rnncli.config import describe_schema

    rows = describe_schema()
    if json_:
        render.print_json(rows)
        return
    render.table(["key", "type", "default", "help"],
                 [[r["key"], r["type"], repr(r["default"]), r["help"]] for r in rows], right=set())
