"""The REST service on a real loopback server: endpoints, limits, API key, errors, live WebSocket, OpenAPI fuzzing."""
import json
import threading
import time

import httpx
import pytest
import uvicorn

from analyzer.api import Analyzer
from analyzer.serve import create_app
from tests.conftest import free_port

CALL = {"id": "c1", "turns": [{"speaker": "客服", "text": "您好，我是支付宝客服，您的百万保障明天扣费"},
                              {"speaker": "用户", "text": "啊？"},
                              {"speaker": "客服", "text": "请下载腾讯会议共享屏幕，把验证码告诉我"}]}


def _start(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer.from_pretrained("rules")


@pytest.fixture(scope="module")
def base_url(analyzer):
    server, url = _start(create_app(analyzer, max_body_bytes=50_000, rate_limit=0))
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


def test_api_key_and_rate_limit(analyzer):
    server, url = _start(create_app(analyzer, api_key="s3cret", rate_limit=3))
    try:
        assert httpx.post(f"{url}/v1/analyze", json={"dialogues": [CALL]}).json()["error"]["code"] == "unauthorized"
        headers = {"X-API-Key": "s3cret"}
        codes = [httpx.post(f"{url}/v1/analyze", json={"dialogues": [CALL]}, headers=headers).status_code
                 for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[-1] == 429
        assert httpx.get(f"{url}/healthz").status_code == 200
    finally:
        server.should_exit = True


def test_live_websocket(base_url):
    from websockets.sync.client import connect
    with connect(base_url.replace("http", "ws") + "/v1/live?id=call-7") as ws:
        updates = []
        for turn in CALL["turns"]:
            ws.send(json.dumps(turn, ensure_ascii=False))
            updates.append(json.loads(ws.recv()))
        assert [u["index"] for u in updates] == [0, 1, 2]
        assert updates[-1]["alert"] and "sensitive_info" in updates[-1]["predicted"]
        ws.send(json.dumps({"speaker": "A"}))
        assert json.loads(ws.recv())["error"]["code"] == "invalid_input"


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
