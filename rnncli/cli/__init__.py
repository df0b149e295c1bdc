"""``rnn``: the command-line interface and its one error boundary.

Core code raises :class:`RnncliError`; :func:`main` prints it as ``Error: …`` / ``hint: …``
on stderr and exits with its code. Anything else is a bug: exit 1, traceback only with --verbose.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
import warnings

import typer

from rnncli.cli import render
from rnncli.cli.app import app
from rnncli.errors import ExitCode, RnncliError, Terminated

# Command (or command group) → the module that registers it on `app`; `rnn --help` lists the commands
# alphabetically (groups come last, in app.py's order).
# `rnn NAME …` imports NAME's module alone: Typer builds the parameters of every registered command
# on each call, which with the other modules' imports would be a good part of a short command's
# start-up (`rnn predict`).
COMMAND_MODULES = {
    "config": "config_cmd", "data": "data_cmd", "evaluate": "evaluate_cmd", "export": "export_cmd",
    "generate": "generate_cmd", "grad-norms": "grad_norms_cmd", "gradcheck": "gradcheck_cmd",
    "jacobian": "jacobian_cmd", "plot": "plot_cmd", "predict": "predict_cmd", "runs": "runs_cmd",
    "serve": "serve_cmd", "summary": "summary_cmd", "sweep": "sweep_cmd", "train": "train_cmd", "vocab": "vocab_cmd",
}


def load_commands(name: str | None = None) -> typer.Typer:
    """Register the command ``name`` on `app`, or every command when ``name`` is None or unknown
    (``rnn --help``, a typo that Typer then reports); returns `app`."""
    modules = [COMMAND_MODULES[name]] if name in COMMAND_MODULES else COMMAND_MODULES.values()
    for module in modules:
        importlib.import_module(f"rnncli.cli.{module}")
    # Alphabetical whatever imported the modules first (a test that ran one command, say).
    app.registered_commands.sort(key=lambda c: c.name or c.callback.__name__.replace("_", "-"))
    return app


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
    # The global options take no values. Shell completion (Typer's: the shell sets _RNN_COMPLETE and passes no
    # arguments) loads every command here.
    load_commands(next((a for a in args if not a.startswith("-")), None))
    with warnings.catch_warnings(record=True) as caught, _sigterm_ends_the_command():
        code = _run_app(args, verbose)
    _report_warnings(caught)
    return code


def _run_app(args: list[str], verbose: bool) -> int:
    try:
        result = app(args=args, prog_name="rnn", standalone_mode=False)
        return int(result) if isinstance(result, int) else ExitCode.OK
    except RnncliError as exc:
        render.error(exc)
        return int(exc.exit_code)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, bad value
        if type(exc).__name__ == "NoArgsIsHelpError":  # `rnn`, `rnn vocab`: the help itself, as for --help
            sys.stderr.write(exc.format_message() + "\n")
            return ExitCode.USAGE
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "rnn"
        sys.stderr.write(f"Error: {exc.format_message()}\nhint: run '{command} --help' for usage and an example.\n")
        return ExitCode.USAGE
    except (KeyboardInterrupt, typer.Abort) as exc:
        if isinstance(exc.__cause__, EOFError):  # click turns an EOFError into Abort, as if for Ctrl-D at a prompt
            return _unexpected(exc.__cause__, verbose)
        sys.stderr.write("Interrupted.\n")
        return ExitCode.INTERRUPTED
    except Terminated:
        sys.stderr.write("Terminated.\n")
        return ExitCode.TERMINATED
    except BrokenPipeError:  # e.g. `rnn predict - --json | head -1`
        return ExitCode.OK
    except Exception as exc:  # a bug, not a user error
        return _unexpected(exc, verbose)


def _unexpected(exc: BaseException, verbose: bool) -> int:
    """A bug, not a user error: one line and a hint, or the traceback with --verbose."""
    if verbose:
        raise exc
    sys.stderr.write(f"Error: unexpected {type(exc).__name__}: {exc}\n"
                     "hint: this is a bug in rnncli; rerun with --verbose for the traceback and report it.\n")
    return ExitCode.UNEXPECTED


@contextlib.contextmanager
def _sigterm_ends_the_command():
    """SIGTERM ends any command as Ctrl-C does, with exit 143 and no traceback (``rnn train`` first
    saves a checkpoint: see :class:`rnncli.training.signals.InterruptGuard`)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _report_warnings(caught: list[warnings.WarningMessage]) -> None:
    """NumPy's floating-point warnings ("overflow encountered in matmul") become one note; other warnings
    are shown as Python shows them. Training never gets here with one: there they are divergence."""
    numeric = sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)
                      and " encountered in " in str(w.message)})
    if numeric:
        render.note(f"NumPy reported {'; '.join(numeric)}: some of the numbers above may be inf or NaN.")
    for w in caught:
        if str(w.message) not in numeric:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
