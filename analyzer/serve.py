"""REST service for embedding the analyzer: `python -m analyzer serve --host 127.0.0.1 --port 8000`.

POST /v1/analyze, POST /v1/explain, WebSocket /v1/live (a call in progress), GET /healthz, /openapi.json.
Every error is JSON: {"error": {"code": <stable code>, "message": ...}} (WebSocket: an error frame of that shape).

Limits, each a `create_app` argument and a `serve` flag:
- API key (optional): sent in a header only, `X-API-Key: KEY` or `Authorization: Bearer KEY`, on every endpoint
  except /healthz, the WebSocket handshake included. A key in the query string is not accepted, and any query
  parameter named like key/token/secret/password is written as `***` in uvicorn's access and error logs.
- Request body: at most `max_body_bytes`, counted on the bytes actually received (chunked bodies included); over it
  the request ends at once with 413 `payload_too_large` and the connection is closed without reading the rest.
  The whole body must arrive within `body_timeout` seconds (408 `request_timeout`, connection closed).
- Turns: at most `max_turns` per request (all dialogues together) and per live session (413 `too_many_turns`;
  WebSocket: that error frame, then close code 1008).
- Rate: `rate_limit` requests per `rate_window` seconds per client (429 `rate_limited`), counted per validated API
  key when a key is configured, else per client address (IPv6: per /64); in-memory sliding-window counters (the
  `limits` library through slowapi) that expire with the window, so memory stays bounded by the active clients.
- Connections: uvicorn's `limit_concurrency` (over it uvicorn answers a plain-text 503) and, since WebSocket
  upgrades bypass that, at most `max_live_sessions` live sessions (handshake denied with 503 `unavailable`);
  keep-alive and live-session idle timeouts; WebSocket frames over `max_body_bytes` are closed by the protocol
  (code 1009).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from typing import Optional
from urllib.parse import unquote_plus

import anyio
from fastapi import FastAPI, Request, Security, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analyzer import __version__
from analyzer.api import Analyzer
from analyzer.chain.schema import Explanation
from analyzer.schema import Dialogue, Prediction, Turn

ERROR_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               408: "request_timeout", 413: "payload_too_large", 422: "invalid_input", 429: "rate_limited",
               500: "internal_error", 503: "unavailable"}
MAX_BATCH = 256
BLANK_TEXT = "turn text is empty or whitespace only"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters str.strip() keeps


# ---------------------------------------------------------------- request and response models (one validation)

class TurnIn(Turn):
    """A turn as every endpoint accepts it (REST and WebSocket): the batch schema, and text must not be blank."""

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip().strip(_INVISIBLE).strip():
            raise ValueError(BLANK_TEXT)
        return text


class DialogueIn(Dialogue):
    turns: list[TurnIn] = Field(min_length=1)


class AnalyzeRequest(BaseModel):
    dialogues: list[DialogueIn] = Field(min_length=1, max_length=MAX_BATCH)


class AnalyzeResponse(BaseModel):
    model: str
    predictions: list[Prediction]


class ExplainRequest(BaseModel):
    dialogue: DialogueIn
    llm: Optional[str] = Field(default=None, description="'none' (offline) or a configured backend spec")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


LiveTurn = TurnIn  # a live frame is one turn, validated like a REST turn


class ApiError(StarletteHTTPException):
    """An HTTP error with a stable code (an HTTPException, so FastAPI passes it on to the JSON handler)."""

    def __init__(self, status: int, message: str, code: Optional[str] = None,
                 headers: Optional[dict[str, str]] = None):
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code or ERROR_CODES.get(status, "error")


def error(status: int, message: str, code: Optional[str] = None,
          headers: Optional[Mapping[str, str]] = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message}},
                        status_code=status, headers=dict(headers) if headers else None)


def error_frame(message: str, code: str = "invalid_input") -> dict:
    return {"error": {"code": code, "message": message}}


def describe(errors: list, default_where: str = "body") -> str:
    """One line for pydantic's first error, the same for REST bodies and WebSocket frames: "where: what"."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or default_where
    message = first.get("msg", "invalid")
    reason = (first.get("ctx") or {}).get("error")
    if first.get("type") == "value_error" and reason:
        message = str(reason)  # without pydantic's "Value error, " prefix
    return f"{where}: {message}"


ERRORS = {400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 408: {"model": ErrorResponse},
          413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}}


# ---------------------------------------------------------------- log redaction

_QUERY_PARAM = re.compile(r"([?&;])([^=&;#?\s\"']+)=([^&;#\s\"']*)")
_SECRET_NAME = re.compile(r"key|token|secret|passw|pwd|auth|credential|signature", re.IGNORECASE)


def redact(text: str) -> str:
    """Replace the values of query parameters named like key/token/secret/password with ***."""
    if "=" not in text:
        return text

    def hide(match: re.Match) -> str:
        name = unquote_plus(match.group(2))
        return f"{match.group(1)}{match.group(2)}=***" if _SECRET_NAME.search(name) else match.group(0)

    return _QUERY_PARAM.sub(hide, text)


class RedactSecrets(logging.Filter):
    """Redacts secrets in query strings from a log record's message and arguments (keeping the arguments' shape)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def install_log_redaction(names: tuple[str, ...] = LOGGERS) -> None:
    """Install RedactSecrets on uvicorn's loggers (idempotent; logging.config.dictConfig keeps logger filters)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


# ---------------------------------------------------------------- request body guard (pure ASGI)

class _BodyError(ApiError):
    pass


def _find_body_error(exc: BaseException) -> Optional[_BodyError]:
    if isinstance(exc, _BodyError):
        return exc
    for inner in getattr(exc, "exceptions", ()):  # an ExceptionGroup from a task group
        found = _find_body_error(inner)
        if found:
            return found
    return None


class BodyGuard:
    """Counts the request body bytes actually received (Content-Length or chunked) and the time they take.

    Over `max_body_bytes` → 413, past `body_timeout` seconds → 408; both close the connection, so the rest of the
    body is never read. A declared Content-Length over the limit is refused before any byte is read.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout: float):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    def _too_large(self, size: Optional[int] = None) -> _BodyError:
        what = f"request body of {size:,} bytes is" if size is not None else "request body is"
        return _BodyError(413, f"{what} over the limit of {self.max_body_bytes:,} bytes",
                          headers={"Connection": "close"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = Headers(scope=scope).get("content-length", "").strip()
        if length.isdigit() and int(length) > self.max_body_bytes:
            exc = self._too_large(int(length))
            return await error(exc.status_code, exc.detail, headers=exc.headers)(scope, receive, send)

        deadline = time.monotonic() + self.body_timeout
        received, complete, started = 0, False, False

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())) as timer:
                message = await receive()
            if timer.cancelled_caught:
                raise _BodyError(408, f"the request body did not arrive within {self.body_timeout:g} s",
                                 headers={"Connection": "close"})
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise self._too_large()
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except Exception as exc:  # raised outside the routes' exception handling (e.g. in a middleware)
            body_error = _find_body_error(exc)
            if body_error is None or started:
                raise
            await error(body_error.status_code, body_error.detail, body_error.code,
                        body_error.headers)(scope, receive, send)


# ---------------------------------------------------------------- rate limiting

def client_address(conn: HTTPConnection) -> str:
    """The client's address as the rate limit counts it: an IPv4 address, or an IPv6 /64 (one subscriber)."""
    host = conn.client.host if conn.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def create_app(analyzer: Analyzer, api_key: Optional[str] = None, max_body_bytes: int = 1_000_000,
               rate_limit: int = 600, allowed_llms: tuple[str, ...] = ("none",), *, max_turns: int = 500,
               rate_window: int = 60, body_timeout: float = 10.0, max_live_sessions: int = 100,
               live_idle_timeout: float = 300.0) -> FastAPI:
    from limits import parse as parse_limit
    from slowapi import Limiter
    from slowapi.errors import RateLimitExceeded
    from slowapi.middleware import SlowAPIASGIMiddleware

    install_log_redaction()
    app = FastAPI(title="scam-analyzer", version=__version__,
                  description="Chinese scam-call analyzer: per-turn tactics, dialogue risk, explanations. "
                              "API key (when the server has one): X-API-Key or Authorization: Bearer header only.")
    expected = api_key.encode("utf-8") if api_key else None
    key_bucket = "key:" + hashlib.sha256(expected).hexdigest()[:16] if expected else None

    def authorized(headers) -> bool:
        if expected is None:
            return True
        given = [headers.get("x-api-key", "")]
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given.append(token.strip())
        return any(hmac.compare_digest(g.encode("utf-8", "surrogateescape"), expected) for g in given if g)

    def rate_key(conn: HTTPConnection) -> str:
        """The validated key's bucket when the server has a key and the client sent it, else the address's."""
        if key_bucket and authorized(conn.headers):
            return key_bucket
        return "addr:" + client_address(conn)

    # slowapi's key function is called with the request as its only argument
    def request_key(request: Request) -> str:
        return rate_key(request)

    spec = f"{rate_limit} per {rate_window} second"
    limiter = Limiter(key_func=request_key, application_limits=[spec] if rate_limit > 0 else [],
                      strategy="sliding-window-counter", storage_uri="memory://", enabled=rate_limit > 0)
    rate_item = parse_limit(spec) if rate_limit > 0 else None
    app.state.limiter = limiter

    async def rate_limited(_request, _exc: RateLimitExceeded):
        return error(429, f"rate limit of {rate_limit} requests per {rate_window} s exceeded",
                     headers={"Retry-After": str(rate_window)})

    app.add_exception_handler(RateLimitExceeded, rate_limited)
    app.add_middleware(BodyGuard, max_body_bytes=max_body_bytes, body_timeout=body_timeout)
    app.add_middleware(SlowAPIASGIMiddleware)  # outermost: over-limit clients are refused before anything else

    api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the server's API key")
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")

    # (defaults, not Annotated: the security schemes are locals, which string annotations cannot name)
    def require_key(request: Request, _key: Optional[str] = Security(api_key_header),
                    _bearer: Optional[HTTPAuthorizationCredentials] = Security(bearer)) -> None:
        if not authorized(request.headers):
            raise ApiError(401, "missing or wrong API key (send it in the X-API-Key or Authorization: Bearer header)")

    secured = [Security(require_key)] if expected else []

    def check_turns(count: int, what: str) -> None:
        if count > max_turns:
            raise ApiError(413, f"{what} has {count} turns, over the limit of {max_turns}", code="too_many_turns")

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        return error(422, describe(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail), getattr(exc, "code", None), exc.headers)

    @app.exception_handler(Exception)
    async def crash(_request, exc: Exception):
        return error(500, f"internal error: {type(exc).__name__}")

    @app.get("/healthz")
    @limiter.exempt
    def healthz() -> dict:
        return {"status": "ok", "model": analyzer.name, "version": __version__}

    @app.post("/v1/analyze", response_model=AnalyzeResponse, responses=ERRORS, dependencies=secured)
    def analyze(body: AnalyzeRequest) -> AnalyzeResponse:
        check_turns(sum(len(d.turns) for d in body.dialogues), "the request")
        return AnalyzeResponse(model=analyzer.name, predictions=analyzer.analyze_many(body.dialogues))

    @app.post("/v1/explain", response_model=Explanation, responses=ERRORS, dependencies=secured)
    def explain(body: ExplainRequest) -> Explanation:
        check_turns(len(body.dialogue.turns), f"dialogue {body.dialogue.id!r}")
        llm = body.llm or "none"
        if llm not in allowed_llms:
            raise ApiError(400, f"LLM backend {llm!r} is not enabled on this server; "
                                f"enabled: {', '.join(allowed_llms)}")
        return analyzer.explain(body.dialogue, llm=llm)

    live_sessions = 0

    async def deny(ws: WebSocket, status: int, message: str, close_code: int) -> None:
        if "websocket.http.response" in ws.scope.get("extensions", {}):
            await ws.send_denial_response(error(status, message))
        else:
            await ws.close(code=close_code, reason=message[:120])

    @app.websocket("/v1/live")
    async def live(ws: WebSocket):
        """Send {"speaker", "text"} per turn (text or binary frames of UTF-8 JSON); receive the updated risk,
        tactics and alert after each, or {"error": {"code", "message"}} for a frame that is not a valid turn."""
        nonlocal live_sessions
        if not authorized(ws.headers):
            return await deny(ws, 401, "missing or wrong API key (send it in the X-API-Key or "
                                       "Authorization: Bearer header)", 4401)
        if rate_item is not None and not limiter.limiter.hit(rate_item, rate_key(ws), "global"):
            return await deny(ws, 429, f"rate limit of {rate_limit} requests per {rate_window} s exceeded", 4429)
        if live_sessions >= max_live_sessions:
            return await deny(ws, 503, f"the server already has {max_live_sessions} live sessions", 1013)
        live_sessions += 1
        try:
            await ws.accept()
            await _live_session(ws, analyzer.live((ws.query_params.get("id") or "live")[:200]))
        except WebSocketDisconnect:
            pass
        finally:
            live_sessions -= 1

    async def _live_session(ws: WebSocket, session) -> None:
        while True:
            with anyio.move_on_after(live_idle_timeout) as idle:
                message = await ws.receive()
            if idle.cancelled_caught:
                await ws.send_json(error_frame(f"no turn for {live_idle_timeout:g} s; closing", "request_timeout"))
                await ws.close(code=1001)
                return
            if message["type"] == "websocket.disconnect":
                return
            frame = message.get("text")
            if frame is None:
                try:
                    frame = (message.get("bytes") or b"").decode("utf-8")
                except UnicodeDecodeError:
                    await ws.send_json(error_frame("binary frames must hold UTF-8 JSON"))
                    continue
            try:
                payload = json.loads(frame)
            except ValueError:
                await ws.send_json(error_frame('frames must be JSON objects {"speaker": ..., "text": ...}'))
                continue
            if not isinstance(payload, dict):
                await ws.send_json(error_frame('frames must be JSON objects {"speaker": ..., "text": ...}'))
                continue
            try:
                turn = LiveTurn.model_validate(payload)
            except ValidationError as err:
                await ws.send_json(error_frame(describe(err.errors(), "message")))
                continue
            if len(session.turns) >= max_turns:
                await ws.send_json(error_frame(f"the live session has reached the limit of {max_turns} turns",
                                               "too_many_turns"))
                await ws.close(code=1008)
                return
            try:
                update = await asyncio.to_thread(session.add_turn, turn.speaker, turn.text)
            except Exception as exc:  # the model failed on this turn; the session stays usable
                logging.getLogger("uvicorn.error").exception("live turn failed")
                await ws.send_json(error_frame(f"internal error: {type(exc).__name__}", "internal_error"))
                continue
            await ws.send_json(update.to_dict())

    return app


def server_config(app, host: str = "127.0.0.1", port: int = 8000, *, keep_alive_timeout: float = 5.0,
                  max_connections: int = 100, ws_max_bytes: int = 1_000_000,
                  forwarded_allow_ips: Optional[str] = None, log_level: str = "info", access_log: bool = True):
    """uvicorn's settings for the service: idle keep-alive connections are closed after `keep_alive_timeout` s,
    at most `max_connections` connections are served at once (503 beyond), WebSocket frames are capped, and
    X-Forwarded-For is believed only from `forwarded_allow_ips` (none by default, so clients cannot pick the
    address the rate limit counts)."""
    import uvicorn

    install_log_redaction()
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log,
                          timeout_keep_alive=keep_alive_timeout, limit_concurrency=max_connections,
                          ws_max_size=ws_max_bytes, proxy_headers=bool(forwarded_allow_ips),
                          forwarded_allow_ips=forwarded_allow_ips or None)


def serve(host: str = "127.0.0.1", port: int = 8000, model: Optional[str] = None, api_key: Optional[str] = None,
          max_body_bytes: int = 1_000_000, rate_limit: int = 600, *, runtime: str = "auto", max_turns: int = 500,
          body_timeout: float = 10.0, keep_alive_timeout: float = 5.0, max_connections: int = 100,
          forwarded_allow_ips: Optional[str] = None) -> None:
    import uvicorn

    allowed = ("none",) + tuple(v for v in (os.environ.get("SCAM_ANALYZER_LLM"),) if v)
    app = create_app(Analyzer.from_pretrained(model, runtime=runtime),
                     api_key=api_key or os.environ.get("SCAM_ANALYZER_API_KEY"),
                     max_body_bytes=max_body_bytes, rate_limit=rate_limit, allowed_llms=allowed,
                     max_turns=max_turns, body_timeout=body_timeout, max_live_sessions=max_connections)
    config = server_config(app, host, port, keep_alive_timeout=keep_alive_timeout, max_connections=max_connections,
                           ws_max_bytes=max_body_bytes, forwarded_allow_ips=forwarded_allow_ips)
    install_log_redaction()  # again after uvicorn's logging setup, in case a custom log config replaced loggers
    uvicorn.Server(config).run()
