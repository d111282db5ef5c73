"""The REST service on a real loopback server: endpoints, limits, API key, errors, live WebSocket, OpenAPI fuzzing."""
import asyncio
import json
import logging
import select
import socket
import threading
import time
import uuid

import httpx
import pytest
import uvicorn

from analyzer.api import Analyzer
from analyzer.serve import create_app
from tests.conftest import free_port

CALL = {"id": "c1", "turns": [{"speaker": "客服", "text": "您好，我是支付宝客服，您的百万保障明天扣费"},
                              {"speaker": "用户", "text": "啊？"},
                              {"speaker": "客服", "text": "请下载腾讯会议共享屏幕，把验证码告诉我"}]}


def _start(app, **config):
    """Serve `app` on a free loopback port with the service's uvicorn settings (analyzer.serve.server_config)."""
    from analyzer import serve as service
    port = free_port()
    config.setdefault("log_level", "warning")
    make = getattr(service, "server_config", None)
    if make is not None:
        settings = make(app, "127.0.0.1", port, **config)
    else:  # a tree without server_config: plain uvicorn defaults, so the hardening tests fail rather than error
        settings = uvicorn.Config(app, host="127.0.0.1", port=port, log_level=config["log_level"])
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _ws(url: str) -> str:
    return url.replace("http", "ws", 1)


def _connect(url: str, path: str = "/v1/live", **kwargs):
    from websockets.sync.client import connect
    return connect(_ws(url) + path, open_timeout=5, **kwargs)


def _raw_socket(url: str, timeout: float = 10) -> socket.socket:
    host, port = url.rsplit("/", 1)[-1].split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def _read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    """Read one HTTP/1.1 response with a Content-Length body; tolerate the server closing right after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer.from_pretrained("rules")


@pytest.fixture(scope="module")
def base_url(analyzer):
    server, url = _start(create_app(analyzer, max_body_bytes=50_000, rate_limit=0))
    yield url
    server.should_exit = True


@pytest.fixture(scope="module")
def tight_url(analyzer):
    """A server with small limits: 4 turns, 0.5 s to send a body, 1 live session, 1 s idle live session."""
    app = create_app(analyzer, max_body_bytes=50_000, rate_limit=0, max_turns=4, body_timeout=0.5,
                     max_live_sessions=1, live_idle_timeout=1.0)
    server, url = _start(app, keep_alive_timeout=0.5)
    yield url
    server.should_exit = True


def test_healthz_and_openapi(base_url):
    assert httpx.get(f"{base_url}/healthz").json()["status"] == "ok"
    schema = httpx.get(f"{base_url}/openapi.json").json()
    assert {"/v1/analyze", "/v1/explain", "/healthz"} <= set(schema["paths"])


def test_analyze(base_url):
    r = httpx.post(f"{base_url}/v1/analyze", json={"dialogues": [CALL, {**CALL, "id": "c2"}]})
    assert r.status_code == 200
    body = r.json()
    assert [p["id"] for p in body["predictions"]] == ["c1", "c2"] and body["predictions"][0]["is_scam"]


def test_explain(base_url):
    r = httpx.post(f"{base_url}/v1/explain", json={"dialogue": CALL})
    assert r.status_code == 200 and r.json()["status"] == "grounded" and r.json()["steps"]
    r = httpx.post(f"{base_url}/v1/explain", json={"dialogue": CALL, "llm": "openai:gpt-x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("payload,status,code", [
    ({"dialogues": []}, 422, "invalid_input"),
    ({"dialogues": [{"id": "x", "turns": []}]}, 422, "invalid_input"),
    ({"dialogues": [{"id": "x", "turns": [{"speaker": "A", "text": " "}]}]}, 422, "invalid_input"),
    ({"dialogues": [{"id": "x", "turns": [{"speaker": "A", "text": "x", "tactics": ["nope"]}]}]}, 422, "invalid_input"),
    ({"dialogues": [{"id": "x", "turns": [{"speaker": "A", "text": "长" * 60_000}]}]}, 413, "payload_too_large"),
])
def test_structured_errors(base_url, payload, status, code):
    r = httpx.post(f"{base_url}/v1/analyze", json=payload)
    assert r.status_code == status and r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_not_json_and_unknown_path(base_url):
    r = httpx.post(f"{base_url}/v1/analyze", content=b"\x00\x01junk", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    assert httpx.get(f"{base_url}/v2/nothing").json()["error"]["code"] == "not_found"


# ---------------------------------------------------------------- 1. body limit on the bytes actually read

CHUNKED_HEAD = (b"POST /v1/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_chunked_body_within_limit_is_accepted(base_url):
    body = json.dumps({"dialogues": [CALL]}, ensure_ascii=False).encode()
    with _raw_socket(base_url) as sock:
        sock.sendall(CHUNKED_HEAD + _chunk(body[:10]) + _chunk(body[10:]) + b"0\r\n\r\n")
        status, _, payload = _read_response(sock)
    assert status == 200 and json.loads(payload)["predictions"][0]["id"] == "c1"


def test_chunked_body_over_limit_is_refused_without_reading_it(base_url):
    """A 60 MB chunked body (no Content-Length) against a 50 kB limit: 413 JSON long before the body ends."""
    total, piece = 60 * 1024 * 1024, b" " * 65536
    sent = 0
    with _raw_socket(base_url) as sock:
        sock.sendall(CHUNKED_HEAD + _chunk(json.dumps({"dialogues": [CALL]}, ensure_ascii=False).encode()[:-1]))
        answered = False
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                answered = True
                break
            try:
                sock.sendall(_chunk(piece))
            except OSError:  # the server closed the connection: it is not reading the rest
                answered = True
                break
            sent += len(piece)
        if not answered:
            sock.sendall(_chunk(b"}") + b"0\r\n\r\n")
        status, headers, payload = _read_response(sock)
        assert status == 413, (status, payload[:200])
        assert json.loads(payload)["error"]["code"] == "payload_too_large"
        assert headers.get("connection") == "close"
        assert sent < total // 4, f"the server read {sent:,} bytes before answering"
        assert _closed_by_server(sock, within=5)


# ---------------------------------------------------------------- 2. turn caps

def test_turn_cap_per_request(tight_url):
    r = httpx.post(f"{tight_url}/v1/analyze", json={"dialogues": [CALL]})
    assert r.status_code == 200
    r = httpx.post(f"{tight_url}/v1/analyze", json={"dialogues": [CALL, {**CALL, "id": "c2"}]})  # 6 turns > 4
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_turns"
    assert "6 turns" in r.json()["error"]["message"]
    long_call = {**CALL, "turns": CALL["turns"] * 2}
    r = httpx.post(f"{tight_url}/v1/explain", json={"dialogue": long_call})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_turns"


def test_turn_cap_per_live_session(tight_url):
    from websockets.exceptions import ConnectionClosed
    with _connect(tight_url) as ws:
        for i in range(4):
            ws.send(json.dumps(CALL["turns"][i % 3], ensure_ascii=False))
            assert json.loads(ws.recv(timeout=5))["index"] == i
        ws.send(json.dumps(CALL["turns"][0], ensure_ascii=False))
        assert json.loads(ws.recv(timeout=5))["error"]["code"] == "too_many_turns"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 1008


# ---------------------------------------------------------------- 3. rate limiting

def test_rate_limit_counts_the_client_address_not_header_values(analyzer):
    server, url = _start(create_app(analyzer, rate_limit=3))
    try:
        codes = []
        for _ in range(5):
            r = httpx.post(f"{url}/v1/analyze", json={"dialogues": [CALL]},
                           headers={"X-API-Key": uuid.uuid4().hex, "X-Forwarded-For": f"10.0.0.{len(codes)}"})
            codes.append(r.status_code)
        assert codes == [200, 200, 200, 429, 429]
        assert r.json()["error"]["code"] == "rate_limited" and r.headers["retry-after"] == "60"
        assert httpx.get(f"{url}/healthz").status_code == 200
        from websockets.exceptions import InvalidStatus
        with pytest.raises(InvalidStatus) as denied:  # a live session is one more request from that address
            with _connect(url):
                pass
        assert json.loads(denied.value.response.body)["error"]["code"] == "rate_limited"
    finally:
        server.should_exit = True


def test_api_key_and_rate_limit(analyzer):
    server, url = _start(create_app(analyzer, api_key="s3cret", rate_limit=3))
    try:
        assert httpx.post(f"{url}/v1/analyze", json={"dialogues": [CALL]}).json()["error"]["code"] == "unauthorized"
        r = httpx.post(f"{url}/v1/analyze?api_key=s3cret", json={"dialogues": [CALL]})
        assert r.status_code == 401  # header only
        headers = {"X-API-Key": "s3cret"}
        codes = [httpx.post(f"{url}/v1/analyze", json={"dialogues": [CALL]}, headers=headers).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]  # the failed attempts counted against the address, not the key
        r = httpx.post(f"{url}/v1/analyze", json={"dialogues": [CALL]}, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"  # same key, same bucket
        assert httpx.get(f"{url}/healthz").status_code == 200
        schema = httpx.get(f"{url}/openapi.json", headers=headers)
        assert schema.status_code == 429 or "APIKeyHeader" in schema.json()["components"]["securitySchemes"]
    finally:
        server.should_exit = True


def test_rate_limiter_memory_is_bounded(analyzer):
    """Counters are per address, random key headers add none, and they are dropped once their window passed."""
    app = create_app(analyzer, rate_limit=2, rate_window=1)
    storage = app.state.limiter.limiter.storage

    async def hit(address: str, key: str = ""):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/v1/analyze", json={"dialogues": [CALL]}, headers={"X-API-Key": key} if key else {})
            return r.status_code

    async def scenario():
        for i in range(40):
            assert await hit(f"10.1.{i // 250}.{i % 250}") == 200
        counted = len(storage.storage)
        assert 40 <= counted <= 80
        codes = [await hit("10.9.9.9", uuid.uuid4().hex) for _ in range(6)]
        assert codes[:2] == [200, 200] and set(codes[2:]) == {429}
        assert len(storage.storage) <= counted + 2
        await asyncio.sleep(2.3)  # two windows: every counter has expired
        assert await hit("10.2.0.1") == 200
        await asyncio.sleep(0.2)
        return len(storage.storage)

    assert asyncio.run(scenario()) <= 2


# ---------------------------------------------------------------- 4 and 7. every frame answered, one validation

def test_live_websocket(base_url):
    with _connect(base_url, "/v1/live?id=call-7") as ws:
        updates = []
        for turn in CALL["turns"]:
            ws.send(json.dumps(turn, ensure_ascii=False))
            updates.append(json.loads(ws.recv(timeout=5)))
        assert [u["index"] for u in updates] == [0, 1, 2]
        assert updates[-1]["alert"] and "sensitive_info" in updates[-1]["predicted"]
        ws.send(json.dumps({"speaker": "A"}))
        assert json.loads(ws.recv(timeout=5))["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("frame", [
    b"\xff\xfe\x00binary",                 # binary, not UTF-8
    b'{"speaker": "A"',                    # binary, malformed JSON
    "not json",                            # text, malformed JSON
    "[1, 2]",                              # JSON, not an object
    '"text"',
    json.dumps({"speaker": "A"}),          # missing text
    json.dumps({"speaker": "A", "text": "x", "extra": 1}),
    json.dumps({"speaker": "A", "text": 5}),
])
def test_every_bad_frame_gets_a_json_error_and_the_session_goes_on(base_url, frame):
    with _connect(base_url) as ws:
        ws.send(frame)
        reply = json.loads(ws.recv(timeout=5))
        assert reply["error"]["code"] == "invalid_input" and reply["error"]["message"]
        ws.send(json.dumps(CALL["turns"][0], ensure_ascii=False).encode())  # a binary frame of UTF-8 JSON
        assert json.loads(ws.recv(timeout=5))["index"] == 0
        ws.send(json.dumps(CALL["turns"][1], ensure_ascii=False))
        assert json.loads(ws.recv(timeout=5))["index"] == 1


def test_blank_text_is_rejected_the_same_way_everywhere(base_url):
    messages = []
    for text in ("", " ", "\u3000\t\n", "\u200b"):
        call = {"id": "b", "turns": [{"speaker": "A", "text": "好的"}, {"speaker": "B", "text": text}]}
        for path, body in (("/v1/analyze", {"dialogues": [call]}), ("/v1/explain", {"dialogue": call})):
            r = httpx.post(f"{base_url}{path}", json=body)
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input", (path, text, r.text)
            messages.append(r.json()["error"]["message"])
        with _connect(base_url) as ws:
            ws.send(json.dumps({"speaker": "B", "text": text}))
            reply = json.loads(ws.recv(timeout=5))
            assert reply["error"]["code"] == "invalid_input"
            messages.append(reply["error"]["message"])
    assert {m.split(": ", 1)[1] for m in messages} == {"turn text is empty or whitespace only"}
    assert messages[:3] == ["dialogues.0.turns.1.text: turn text is empty or whitespace only",
                            "dialogue.turns.1.text: turn text is empty or whitespace only",
                            "text: turn text is empty or whitespace only"]


# ---------------------------------------------------------------- 5. keys in a header only, redacted from logs

def test_redact_query_secrets():
    from analyzer.serve import RedactSecrets, redact
    assert redact("/v1/live?api_key=s3cret&id=7") == "/v1/live?api_key=***&id=7"
    assert redact("/x?id=1&access%5Ftoken=t&PASSWORD=p&client_secret=c;key=k") == \
        "/x?id=1&access%5Ftoken=***&PASSWORD=***&client_secret=***;key=***"
    assert redact("/x?q=keyword&page=2") == "/x?q=keyword&page=2"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/healthz?token=abc", "1.1", 200), None)
    assert RedactSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /healthz?token=*** HTTP/1.1" 200'


def test_query_keys_are_refused_and_never_logged(analyzer):
    from websockets.exceptions import InvalidStatus
    server, url = _start(create_app(analyzer, api_key="s3cret", rate_limit=0), log_level="info")
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        assert httpx.get(f"{url}/healthz?api_key=s3cret&access_token=t0ken&x=1").status_code == 200
        with pytest.raises(InvalidStatus) as denied:
            with _connect(url, "/v1/live?api_key=s3cret"):
                pass
        assert denied.value.response.status_code == 401
        assert json.loads(denied.value.response.body)["error"]["code"] == "unauthorized"
        with _connect(url, "/v1/live?id=7&token=t0ken", additional_headers={"X-API-Key": "s3cret"}) as ws:
            ws.send(json.dumps(CALL["turns"][0], ensure_ascii=False))
            assert json.loads(ws.recv(timeout=5))["index"] == 0
        time.sleep(0.3)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.setLevel(logging.WARNING)
        server.should_exit = True
    text = "\n".join(lines)
    assert "/healthz?api_key=***&access_token=***&x=1" in text and "/v1/live?id=7&token=***" in text, text
    assert "s3cret" not in text and "t0ken" not in text


# ---------------------------------------------------------------- 6. timeouts and connection limits

def test_slow_body_is_cut_off(tight_url):
    with _raw_socket(tight_url) as sock:
        sock.sendall(b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"dialogues\"")
        started = time.monotonic()
        for _ in range(3):  # a byte now and then: never done
            time.sleep(0.2)
            sock.sendall(b" ")
        status, headers, body = _read_response(sock)
        assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"
        assert time.monotonic() - started < 4
        assert _closed_by_server(sock, within=3)


def test_idle_keep_alive_connection_is_closed(tight_url):
    with _raw_socket(tight_url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock)[0] == 200
        assert _closed_by_server(sock, within=3)


def test_connection_limit(analyzer):
    server, url = _start(create_app(analyzer, rate_limit=0), max_connections=2)
    idle = [_raw_socket(url) for _ in range(2)]
    try:
        time.sleep(0.2)
        assert httpx.get(f"{url}/healthz").status_code == 503
    finally:
        for sock in idle:
            sock.close()
    try:
        time.sleep(0.3)
        assert httpx.get(f"{url}/healthz").status_code == 200
    finally:
        server.should_exit = True


def test_live_session_limit_and_idle_timeout(tight_url):
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    with _connect(tight_url) as first:
        with pytest.raises(InvalidStatus) as denied:
            with _connect(tight_url):
                pass
        assert denied.value.response.status_code == 503
        assert json.loads(denied.value.response.body)["error"]["code"] == "unavailable"
        reply = json.loads(first.recv(timeout=5))  # nothing sent for 1 s
        assert reply["error"]["code"] == "request_timeout"
        with pytest.raises(ConnectionClosed):
            first.recv(timeout=5)
    time.sleep(0.2)
    with _connect(tight_url) as again:  # the slot is free again
        again.send(json.dumps(CALL["turns"][0], ensure_ascii=False))
        assert json.loads(again.recv(timeout=5))["index"] == 0


def test_cli_flags_reach_the_server(monkeypatch):
    import analyzer.serve as service
    from analyzer.cli import main
    seen = {}
    monkeypatch.setattr(service, "serve", lambda **kwargs: seen.update(kwargs))
    assert main(["serve", "--model", "rules", "--max-turns", "7", "--body-timeout", "2", "--keep-alive-timeout",
                 "3", "--max-connections", "9", "--rate-limit", "50"]) == 0
    assert seen["max_turns"] == 7 and seen["body_timeout"] == 2 and seen["keep_alive_timeout"] == 3
    assert seen["max_connections"] == 9 and seen["rate_limit"] == 50 and seen["forwarded_allow_ips"] is None
    config = service.server_config(object(), ws_max_bytes=1234)
    assert (config.timeout_keep_alive, config.limit_concurrency, config.ws_max_size, config.proxy_headers) == \
        (5.0, 100, 1234, False)


# ---------------------------------------------------------------- fuzzing

def test_schemathesis_against_openapi(base_url):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures, calls = [], []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(base_url=base_url)
            calls.append(response.status_code)
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                assert "error" in response.json()
        try:
            check()
        except AssertionError as err:
            failures.append(f"{operation.label}: {err}")
    assert not failures, failures
    assert len(calls) >= 40 and 200 in calls
