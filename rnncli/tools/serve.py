"""``rnn serve``: a trained run behind an HTTP JSON API (Starlette on uvicorn; optional extra ``[serve]``).

    GET  /health     {"status": "ok"}
    GET  /metadata   {"task", "labels", "model", "weights", "version", "config", "limits"}
    POST /predict    {"texts": [str, …], "top_k"?, "threshold"?, "beam"?, "max_length"?}
                     → {"predictions": [the objects of `rnn predict --json`, one per text]}
    POST /generate   lm: {"prime"?, "length"?, "temperature"?, "top_k"?, "seed"?} → {"prime", "text", "tokens", "before_prime"}
                     generate: {"condition", "num"?, "length"?, "temperature"?, "top_k"?, "seed"?}
                     → {"texts": [{"condition", "text", "tokens"}, …]}

``top_k`` and ``threshold`` (classify) add ``"top"``: the ``top_k`` likeliest labels (all by default) whose
probability is at least ``threshold`` (0 by default), likeliest first, as fastText's ``predict FILE k t``.
``beam`` and ``max_length`` decode a seq2seq model (as ``rnn predict``'s options).

The model is loaded once per worker process. Predictions run on one thread per process, and requests
that arrive while one is running are batched into the next call (up to ``MAX_BATCH_TEXTS`` texts), so
concurrent clients share the forward passes. A request larger than ``max_body`` bytes or with more than
``max_texts`` texts gets 413; malformed JSON, a missing or mistyped field, an unknown field or an input
the model cannot read gets 400; an unknown path 404, a wrong method 405; any other failure 500. Every
error body is ``{"error": message, "hint": how to fix it}``, never a traceback. One log line per request
(method, path, status, texts, milliseconds) goes to the ``rnncli.serve`` logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from rnncli import __version__
from rnncli.errors import RnncliError, UsageError

INSTALL_HINT = "install the serve extra: pip install 'rnncli[serve]' (uvicorn and starlette)"
MAX_BATCH_TEXTS = 256  # texts per forward call when requests are batched together
LOG = logging.getLogger("rnncli.serve")
ENV_RUN, ENV_LAST, ENV_LIMITS = "RNNCLI_SERVE_RUN", "RNNCLI_SERVE_LAST", "RNNCLI_SERVE_LIMITS"


def require_server():
    import importlib

    try:
        importlib.import_module("starlette")
        uvicorn = importlib.import_module("uvicorn")
    except ImportError:
        raise UsageError("rnn serve needs uvicorn and starlette, which are not installed.",
                         hint=INSTALL_HINT + ".") from None
    return uvicorn


def check_address(host: str, port: int) -> None:
    """Refuse, before loading anything into a server, an address that cannot be listened on."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}: {exc.strerror}.", hint="pass --host 127.0.0.1, 0.0.0.0 or an address of this machine.") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a port in TIME_WAIT is free
        try:
            sock.bind(address)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.",
                             hint="choose another --port, or stop what is listening there.") from None


@dataclass(frozen=True)
class Limits:
    max_body: int = 1 << 20  # bytes of one request body
    max_texts: int = 256  # texts of one /predict request
    max_generate: int = 2000  # tokens one /generate request may ask for (length × num)


class HTTPError(Exception):
    def __init__(self, status: int, message: str, hint: str = ""):
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


# ------------------------------------------------------------------------------- request bodies

PREDICT_FIELDS = {"texts": list, "top_k": int, "threshold": float, "beam": int, "max_length": int}
GENERATE_FIELDS = {"prime": str, "condition": str, "num": int, "length": int, "temperature": float,
                   "top_k": int, "seed": int}


def parse_body(raw: bytes, fields: dict[str, type], limits: Limits) -> dict:
    """The request's JSON object, checked against ``fields`` (name → type); HTTPError 400 or 413."""
    if len(raw) > limits.max_body:
        raise HTTPError(413, f"the request body has {len(raw)} bytes; this server takes at most {limits.max_body}.",
                        "send fewer or shorter texts per request, or start rnn serve with a larger --max-body.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPError(400, f"the request body is not valid JSON ({exc}).",
                        'send a JSON object, e.g. {"texts": ["movie was good"]}.') from None
    except RecursionError:
        raise HTTPError(400, "the request body nests its arrays or objects too deeply to read.",
                        'send a flat JSON object, e.g. {"texts": ["movie was good"]}.') from None
    if not isinstance(body, dict):
        raise HTTPError(400, f"the request body must be a JSON object; got {type(body).__name__}.",
                        'e.g. {"texts": ["movie was good"]}.')
    for key, value in body.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            raise HTTPError(400, f"unknown field {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "") + ".",
                            "the fields are " + ", ".join(fields) + ".")
        expected = fields[key]
        ok = isinstance(value, expected) and not isinstance(value, bool) if expected is not float else \
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok:
            raise HTTPError(400, f"{key!r} must be {_noun(expected)}; got {json.dumps(value)[:60]}.",
                            f"send {key!r} as {_noun(expected)}.")
        strings = [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)] \
            if isinstance(value, list) else []
        if not all(map(_encodable, strings)):
            raise HTTPError(400, f"{key!r} holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), "
                                 "which is no character.", "send text as UTF-8, or escape both halves of the pair.")
    return body


def _encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode text: JSON's \\uXXXX escapes can spell half a surrogate pair."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _noun(tp: type) -> str:
    return {list: "a list of strings", int: "an integer", float: "a number", str: "a string"}[tp]


def predict_options(body: dict, limits: Limits) -> tuple[list[str], dict]:
    texts = body.get("texts")
    if texts is None:
        raise HTTPError(400, "the request has no 'texts'.", 'send {"texts": ["some text", …]}.')
    if not all(isinstance(t, str) for t in texts):
        raise HTTPError(400, "'texts' must be a list of strings.", 'e.g. {"texts": ["movie was good"]}.')
    if not texts:
        raise HTTPError(400, "'texts' is empty: there is nothing to predict.", "send at least one text.")
    if len(texts) > limits.max_texts:
        raise HTTPError(413, f"the request has {len(texts)} texts; this server takes at most {limits.max_texts}.",
                        "split them over several requests, or start rnn serve with a larger --max-texts.")
    options = {"beam": body.get("beam", 1), "max_length": body.get("max_length")}
    if options["beam"] < 1 or (options["max_length"] is not None and options["max_length"] < 1):
        raise HTTPError(400, "'beam' and 'max_length' must be at least 1.", "e.g. \"beam\": 4.")
    top = {k: body[k] for k in ("top_k", "threshold") if k in body}
    if top.get("top_k", 1) < 1 or not 0 <= top.get("threshold", 0) <= 1:
        raise HTTPError(400, "'top_k' must be at least 1 and 'threshold' between 0 and 1.", 'e.g. "top_k": 2.')
    return texts, {**options, **top}


def with_top(prediction: dict, top_k: int | None, threshold: float | None) -> dict:
    """A classification with "top": the likeliest labels (at most ``top_k``, each at least ``threshold``)."""
    scores = prediction.get("scores")
    if not isinstance(scores, dict):
        raise HTTPError(400, "'top_k' and 'threshold' apply to classifiers, whose prediction scores labels.",
                        "drop them for this model.")
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    ranked = [(label, p) for label, p in ranked if p >= (threshold or 0.0)][:top_k]
    return {**prediction, "top": [{"label": label, "probability": p} for label, p in ranked]}


# ------------------------------------------------------------------------------- batching


class Batcher:
    """Predictions on one thread; requests that wait while a call runs go into the next call together."""

    def __init__(self, run, predict):
        self.run, self.predict = run, predict
        self.queue: asyncio.Queue | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnncli-predict")
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: list[str], beam: int, max_length: int | None) -> list[dict]:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, (beam, max_length), future))
        return await future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = [await self.queue.get()]
            size = len(group[0][0])
            while not self.queue.empty() and size < MAX_BATCH_TEXTS:
                item = self.queue.get_nowait()
                if item[1] != group[0][1]:  # other decoding options: the next call
                    await self.queue.put(item)
                    break
                group.append(item)
                size += len(item[0])
            texts = [t for item in group for t in item[0]]
            try:
                results = await loop.run_in_executor(self.executor, self.predict, self.run, texts, *group[0][1])
            except RnncliError:  # one request's input spoiled the batch: answer each on its own
                for item in group:
                    await self._alone(loop, item)
                continue
            except Exception as exc:  # noqa: BLE001 - reported to every waiting request, as a 500
                for item in group:
                    if not item[2].done():
                        item[2].set_exception(exc)
                continue
            start = 0
            for texts_i, _, future in group:
                if not future.done():
                    future.set_result(results[start : start + len(texts_i)])
                start += len(texts_i)

    async def _alone(self, loop, item) -> None:
        texts, options, future = item
        try:
            result = await loop.run_in_executor(self.executor, self.predict, self.run, texts, *options)
        except Exception as exc:  # noqa: BLE001
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)


# ------------------------------------------------------------------------------- the application


def serving_run(run):
    """``run`` with every recurrent layer's W_hh^T beside its weights (:func:`~rnncli.engine.recurrent.with_transposes`):
    the weights are fixed while the server runs, so requests find the transposes instead of copying them."""
    from rnncli.engine.recurrent import with_transposes

    return replace(run, params=with_transposes(run.params))


def create_app(run, limits: Limits = Limits()):
    """The Starlette application serving ``run`` (:class:`rnncli.rundir.Run`)."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from rnncli.evaluation.generate import continuation, generate as sample_lm, generate_from
    from rnncli.evaluation.predict import predict
    from rnncli.tasks import task_of

    task = task_of(run.spec.task)
    run = serving_run(run)
    batcher = Batcher(run, predict)
    metadata = {"task": run.spec.task, "labels": run.labels.to_dict()["labels"], "model": str(run.path),
                "weights": run.weights, "version": __version__, "config": run.config.to_dict(),
                "limits": {"max_body": limits.max_body, "max_texts": limits.max_texts}}

    def error(status: int, message: str, hint: str = "") -> JSONResponse:
        return JSONResponse({"error": message, "hint": hint}, status_code=status)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def meta(request: Request) -> JSONResponse:
        return JSONResponse(metadata)

    async def predict_route(request: Request) -> JSONResponse:
        body = parse_body(await _read(request, limits), PREDICT_FIELDS, limits)
        texts, options = predict_options(body, limits)
        request.state.texts = len(texts)
        predictions = await batcher.submit(texts, options["beam"], options["max_length"])
        if "top_k" in options or "threshold" in options:
            predictions = [with_top(p, options.get("top_k"), options.get("threshold")) for p in predictions]
        return JSONResponse({"predictions": predictions})

    async def generate_route(request: Request) -> JSONResponse:
        body = parse_body(await _read(request, limits), GENERATE_FIELDS, limits)
        length, num = body.get("length"), body.get("num", 1)
        if (length is not None and length < 0) or num < 1:
            raise HTTPError(400, "'length' must be at least 0 and 'num' at least 1.", 'e.g. "length": 100.')
        loop = asyncio.get_running_loop()
        if run.spec.architecture == "generator":
            if "condition" not in body:
                raise HTTPError(400, "this model generates text from a label: send 'condition'.",
                                "its labels: " + ", ".join(metadata["labels"]) + ".")
            length = 100 if length is None else length
            _check_size(length * num, limits)
            texts = await loop.run_in_executor(
                batcher.executor, lambda: generate_from(run, body["condition"], num, length, body.get("temperature", 1.0),
                                                        body.get("top_k"), body.get("seed")))
            return JSONResponse({"texts": texts})
        if not task.causal:
            raise HTTPError(400, f"/generate samples from a language model or a generator; a {run.spec.task} model "
                                 "answers POST /predict (a seq2seq model decodes its output there, with 'beam').",
                            'POST /predict {"texts": [...]}.')
        if "condition" in body or "num" in body:
            raise HTTPError(400, "'condition' and 'num' apply to a generator (task generate); a language model "
                                 "continues a 'prime'.", "drop them.")
        length = 500 if length is None else length
        _check_size(length, limits)
        prime = body.get("prime", "\n")

        def sample() -> list[str]:
            return list(sample_lm(run, prime, length, body.get("temperature", 1.0), body.get("top_k"), body.get("seed")))

        tokens = await loop.run_in_executor(batcher.executor, sample)
        return JSONResponse(continuation(run, prime, tokens))

    async def on_http_error(request: Request, exc: HTTPError) -> JSONResponse:
        return error(exc.status, exc.message, exc.hint)

    async def on_rnncli_error(request: Request, exc: RnncliError) -> JSONResponse:
        return error(400, exc.message, exc.hint or "")

    async def on_starlette_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        text = {404: "no such path", 405: "wrong method for this path"}.get(exc.status_code, str(exc.detail))
        return error(exc.status_code, f"{text}: {request.method} {request.url.path}.",
                     "GET /health, GET /metadata, POST /predict, POST /generate.")

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        LOG.error("error in %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return error(500, "the server failed to answer this request.", "see the server's log; retry later.")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()

    app = Starlette(
        routes=[Route("/health", health, methods=["GET"]), Route("/metadata", meta, methods=["GET"]),
                Route("/predict", predict_route, methods=["POST"]), Route("/generate", generate_route, methods=["POST"])],
        exception_handlers={HTTPError: on_http_error, RnncliError: on_rnncli_error,
                            StarletteHTTPException: on_starlette_error, Exception: on_crash},
        lifespan=lifespan,
    )
    app.add_middleware(_AccessLog)
    return app


def _check_size(tokens: int, limits: Limits) -> None:
    if tokens > limits.max_generate:
        raise HTTPError(413, f"the request asks for {tokens} tokens; this server generates at most "
                             f"{limits.max_generate} per request.", "ask for fewer ('length' × 'num').")


async def _read(request, limits: Limits) -> bytes:
    """The body, refused (413) as soon as it grows past the limit, before it is all read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body:
        raise HTTPError(413, f"the request body has {declared} bytes; this server takes at most {limits.max_body}.",
                        "send fewer or shorter texts per request, or start rnn serve with a larger --max-body.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_body:
            raise HTTPError(413, f"the request body has more than {limits.max_body} bytes, the most this server takes.",
                            "send fewer or shorter texts per request, or start rnn serve with a larger --max-body.")
        chunks.append(chunk)
    return b"".join(chunks)


class _AccessLog:
    """One line per request: client, method, path, status, texts, milliseconds."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), {}

        async def sending(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client") or ("-", 0)
            texts = scope.get("state", {}).get("texts")
            LOG.info("%s %s %s %s%s %.1f ms", client[0], scope["method"], scope["path"], status.get("code", 500),
                     f" {texts} texts" if texts is not None else "", 1000 * (time.perf_counter() - start))


def app_from_environment():
    """The application of a worker process (``uvicorn --workers N`` imports it by name): the run and limits
    come from the environment that ``rnn serve`` set."""
    from rnncli.rundir import load_run

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    limits = Limits(**json.loads(os.environ.get(ENV_LIMITS, "{}")))
    return create_app(load_run(os.environ[ENV_RUN], last=os.environ.get(ENV_LAST) == "1"), limits)
