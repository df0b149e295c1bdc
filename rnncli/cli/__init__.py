"""``rnn``: the command-line interface and its one error boundary.

Core code raises :class:`RnncliError`; :func:`main` prints it as ``Error: …`` / ``hint: …``
on stderr and exits with its code. Anything else is a bug: exit 1, traceback only with --verbose.
"""

from __future__ import annotations

import sys

import typer

from rnncli.cli import render
from rnncli.cli.app import app
from rnncli.errors import ExitCode, RnncliError

# Importing the command modules registers their commands on `app`.
from rnncli.cli import (  # noqa: E402,F401
    config_cmd, data_cmd, evaluate_cmd, export_cmd, generate_cmd, grad_norms_cmd, gradcheck_cmd, predict_cmd,
    summary_cmd, train_cmd, vocab_cmd,
)


def main(argv: list[str] | None = None) -> int:
    """Run ``rnn`` with ``argv`` (default: sys.argv[1:]); returns the exit code (and exits when run as a script)."""
    args = sys.argv[1:] if argv is None else list(argv)
    code = run(args)
    if argv is None:
        sys.exit(code)
    return code


GLOBAL_FLAGS = ("--quiet", "-q", "--verbose", "-v")


def hoist_global_flags(args: list[str]) -> list[str]:
    """Accept --quiet/--verbose anywhere (``rnn train -q …``), not only before the command."""
    cut = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:cut] if a in GLOBAL_FLAGS]
    return flags + [a for a in args[:cut] if a not in GLOBAL_FLAGS] + args[cut:]


def run(args: list[str]) -> int:
    args = hoist_global_flags(args)
    verbose = "--verbose" in args or "-v" in args
    try:
        result = app(args=args, prog_name="rnn", standalone_mode=False)
        return int(result) if isinstance(result, int) else ExitCode.OK
    except RnncliError as exc:
        render.error(exc)
        return int(exc.exit_code)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, bad value
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "rnn"
        sys.stderr.write(f"Error: {exc.format_message()}\nhint: run '{command} --help' for usage and an example.\n")
        return ExitCode.USAGE
    except (KeyboardInterrupt, typer.Abort):
        sys.stderr.write("Interrupted.\n")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # e.g. `rnn predict - --json | head -1`
        return ExitCode.OK
    except Exception as exc:  # a bug, not a user error
        if verbose:
            raise
        sys.stderr.write(f"Error: unexpected {type(exc).__name__}: {exc}\n"
                         "hint: this is a bug in rnncli; rerun with --verbose for the traceback and report it.\n")
        return ExitCode.UNEXPECTED
