"""rnn serve"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Optional

import typer

from rnncli.cli import render
from rnncli.cli.app import app
from rnncli.cli.common import LAST, open_run


@app.command(help="""Serve a trained model over HTTP: a JSON API for predictions (needs pip install 'rnncli[serve]').

\b
GET  /health    {"status": "ok"}
GET  /metadata  {"task", "labels", "model", "weights", "version", "config", "limits"}
POST /predict   {"texts": [...], "top_k"?, "threshold"?, "beam"?, "max_length"?}
                → {"predictions": [what rnn predict --json prints, per text; with top_k or threshold, also "top"]}
POST /generate  lm {"prime", "length", "temperature", "top_k", "seed"} → {"prime", "text", "tokens", "before_prime"};
                generate {"condition", "num", ...} → {"texts": [{"condition", "text", "tokens"}]}

The model is loaded once per worker; requests that arrive together are predicted together.
It listens on 127.0.0.1 unless --host says otherwise. Bodies over --max-body bytes and requests
with more than --max-texts texts get 413; malformed requests 400 with {"error", "hint"}. One
log line per request on stderr; Ctrl-C or SIGTERM stops it cleanly (exit 0) after the requests
in flight.

\b
Example:  rnn serve runs/sentiment-toy --port 8000
          curl -s localhost:8000/predict -d '{"texts": ["movie was good"]}'
""")
def serve(
    run: Optional[Path] = typer.Argument(None, metavar="RUN", help="Run directory (default: the newest under ./runs)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes, each with the model loaded."),
    max_body: int = typer.Option(1 << 20, "--max-body", min=1, help="Largest request body, in bytes."),
    max_texts: int = typer.Option(256, "--max-texts", min=1, help="Most texts in one /predict request."),
    last: bool = LAST,
) -> None:
    import json
    import logging
    import os

    from rnncli.tools import serve as server

    uvicorn = server.require_server()
    model = open_run(run, last)  # loaded here too: a bad run is reported before the server starts
    limits = server.Limits(max_body=max_body, max_texts=max_texts)
    server.check_address(host, port)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    render.note(f"serving {model.path} (task {model.spec.task}, {model.weights}) on http://{host}:{port} "
                f"with {workers} worker(s); Ctrl-C stops")
    options = {"host": host, "port": port, "log_level": "warning", "access_log": False}
    with _stopped_by_signal():
        if workers == 1:
            uvicorn.run(server.create_app(model, limits), **options)
        else:
            os.environ[server.ENV_RUN] = str(model.path.resolve())
            os.environ[server.ENV_LAST] = "1" if last else "0"
            os.environ[server.ENV_LIMITS] = json.dumps({"max_body": max_body, "max_texts": max_texts})
            uvicorn.run("rnncli.tools.serve:app_from_environment", factory=True, workers=workers, **options)
    render.note("stopped")


@contextlib.contextmanager
def _stopped_by_signal():
    """Ctrl-C and SIGTERM are how a server is stopped: uvicorn finishes the requests in flight, then hands the
    signal back, which ends the command with exit 0 instead of rnn's 130 or 143."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: None)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
