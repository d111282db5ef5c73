"""REST service for embedding the analyzer: `python -m analyzer serve --host 127.0.0.1 --port 8000`.

POST /v1/analyze, POST /v1/explain, WebSocket /v1/live (a call in progress), GET /healthz, /openapi.json.
Limits: request size, a per-client rate limit, an optional API key (X-API-Key or Authorization: Bearer).
Every error is JSON: {"error": {"code": <stable code>, "message": ...}}.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import defaultdict, deque
from typing import Optional

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from analyzer import __version__
from analyzer.api import Analyzer
from analyzer.chain.schema import Explanation
from analyzer.schema import Dialogue, Prediction, Turn

ERROR_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               413: "payload_too_large", 422: "invalid_input", 429: "rate_limited", 500: "internal_error"}
MAX_BATCH = 256


class AnalyzeRequest(BaseModel):
    dialogues: list[Dialogue] = Field(min_length=1, max_length=MAX_BATCH)


class AnalyzeResponse(BaseModel):
    model: str
    predictions: list[Prediction]


class ExplainRequest(BaseModel):
    dialogue: Dialogue
    llm: Optional[str] = Field(default=None, description="'none' (offline) or a configured backend spec")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class LiveTurn(BaseModel):
    speaker: str
    text: str


def error(status: int, message: str, code: Optional[str] = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message}},
                        status_code=status)


class RateLimiter:
    """A sliding one-minute window of requests per client (thread-safe)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.hits: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        with self.lock:
            window = self.hits[client]
            while window and now - window[0] > 60:
                window.popleft()
            if len(window) >= self.per_minute:
                return False
            window.append(now)
            return True


ERRORS = {400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 413: {"model": ErrorResponse},
          422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}}


def create_app(analyzer: Analyzer, api_key: Optional[str] = None, max_body_bytes: int = 1_000_000,
               rate_limit: int = 600, allowed_llms: tuple[str, ...] = ("none",)) -> FastAPI:
    app = FastAPI(title="scam-analyzer", version=__version__,
                  description="Chinese scam-call analyzer: per-turn tactics, dialogue risk, explanations.")
    limiter = RateLimiter(rate_limit)

    def authorized(headers) -> bool:
        if not api_key:
            return True
        bearer = headers.get("authorization", "")
        return headers.get("x-api-key") == api_key or bearer == f"Bearer {api_key}"

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path != "/healthz":
            if not authorized(request.headers):
                return error(401, "missing or wrong API key (X-API-Key header)")
            client = request.headers.get("x-api-key") or (request.client.host if request.client else "?")
            if not limiter.allow(client):
                return error(429, f"rate limit of {rate_limit} requests a minute exceeded")
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_body_bytes:
                return error(413, f"request body of {int(length):,} bytes is over the limit of {max_body_bytes:,}")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body") or "body"
        return error(422, f"{where}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def crash(_request, exc: Exception):
        return error(500, f"internal error: {type(exc).__name__}")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "model": analyzer.name, "version": __version__}

    @app.post("/v1/analyze", response_model=AnalyzeResponse, responses=ERRORS)
    def analyze(body: AnalyzeRequest) -> AnalyzeResponse:
        for d in body.dialogues:
            empty = [i for i, t in enumerate(d.turns) if not t.text.strip()]
            if empty:
                raise StarletteHTTPException(422, f"dialogue {d.id!r}: turn {empty[0]} has empty text")
        return AnalyzeResponse(model=analyzer.name, predictions=analyzer.analyze_many(body.dialogues))

    @app.post("/v1/explain", response_model=Explanation, responses=ERRORS)
    def explain(body: ExplainRequest) -> Explanation:
        llm = body.llm or "none"
        if llm not in allowed_llms:
            raise StarletteHTTPException(400, f"LLM backend {llm!r} is not enabled on this server; "
                                              f"enabled: {', '.join(allowed_llms)}")
        return analyzer.explain(body.dialogue, llm=llm)

    @app.websocket("/v1/live")
    async def live(ws: WebSocket):
        """Send {"speaker", "text"} per turn; receive the updated risk, tactics and alert after each."""
        if not authorized(ws.headers) and ws.query_params.get("api_key") != api_key:
            await ws.close(code=4401, reason="missing or wrong API key")
            return
        await ws.accept()
        session = analyzer.live(ws.query_params.get("id") or "live")
        try:
            while True:
                message = await ws.receive_json()
                try:
                    turn = LiveTurn.model_validate(message)
                    Turn(speaker=turn.speaker, text=turn.text)
                except ValidationError as err:
                    first = err.errors()[0]
                    await ws.send_json({"error": {"code": "invalid_input", "message":
                                        f"{'.'.join(map(str, first['loc']))}: {first['msg']}"}})
                    continue
                update = await asyncio.to_thread(session.add_turn, turn.speaker, turn.text)
                await ws.send_json(update.to_dict())
        except WebSocketDisconnect:
            return
        except ValueError:
            await ws.send_json({"error": {"code": "invalid_input", "message": "messages must be JSON objects"}})
            await ws.close(code=1003)

    return app


def serve(host: str = "127.0.0.1", port: int = 8000, model: Optional[str] = None, api_key: Optional[str] = None,
          max_body_bytes: int = 1_000_000, rate_limit: int = 600) -> None:
    import uvicorn

    allowed = ("none",) + tuple(v for v in (os.environ.get("SCAM_ANALYZER_LLM"),) if v)
    app = create_app(Analyzer.from_pretrained(model), api_key=api_key or os.environ.get("SCAM_ANALYZER_API_KEY"),
                     max_body_bytes=max_body_bytes, rate_limit=rate_limit, allowed_llms=allowed)
    uvicorn.run(app, host=host, port=port, log_level="info")
