"""Web demo handlers (no browser) and the Gradio API from gradio_client."""
import os
import subprocess
import sys
import time

import pytest

import app
from tests.conftest import REPO, free_port


def test_examples_cover_scams_and_lookalikes():
    names = list(app.examples())
    assert any(n.startswith("scam_") for n in names) and sum(n.startswith("benign_") for n in names) >= 3


def test_analyze_text_renders_everything():
    badge, transcript, plot, explanation = app.analyze_text(app.load_example("scam_ecommerce_refund"), "none", "中文")
    assert 'id="risk-badge"' in badge and "诈骗概率" in badge
    assert transcript.count('class="turn') == 12 and 'id="turn-0"' in transcript
    assert plot is not None
    assert 'href="#turn-' in explanation and "非 LLM" in explanation


def test_english_switch():
    badge, transcript, _, explanation = app.analyze_text(app.load_example("scam_ecommerce_refund"), "none", "English")
    assert "scam probability" in badge and "Step by step" in explanation


@pytest.mark.parametrize("text,needle", [("", "请先粘贴"), ("   ", "请先粘贴"), ("x" * 30000, "输入太长"),
                                         ('{"id": "a", "turns": [}', "invalid JSON"), ('{"id": "a", "turns": []}', "no turns"),
                                         ("\n".join(f"A：第{i}句" for i in range(250)), "轮次太多")])
def test_bad_input_is_a_friendly_message(text, needle):
    badge, transcript, plot, explanation = app.analyze_text(text, "none", "中文")
    assert 'class="error-box"' in badge and needle in badge and "Traceback" not in badge
    assert transcript == "" and plot is None


def test_live_sessions_are_separate():
    s1, badge1, transcript1, _, cleared = app.live_add(None, "客服", "您好，我是京东金融客服，您的金条需要注销")
    s2, _, transcript2, _, _ = app.live_add(None, "妈妈", "晚上回来吃饭吗")
    s1, badge1, transcript1, _, _ = app.live_add(s1, "客服", "请下载腾讯会议共享屏幕，把验证码告诉我")
    assert s1 is not s2 and len(s1.turns) == 2 and len(s2.turns) == 1
    assert "京东金融" in transcript1 and "京东金融" not in transcript2 and cleared == ""
    assert 'id="risk-badge"' in badge1


def test_live_empty_turn_message():
    session, badge, *_ = app.live_add(None, "A", "  ")
    assert 'class="error-box"' in badge and session.turns == []


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    import urllib.request
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read()[-2000:])
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_gradio_client_api(server):
    from gradio_client import Client
    client = Client(server, verbose=False)
    result = client.predict(app.load_example("scam_fake_police"), api_name="/analyze")
    assert result["prediction"]["is_scam"] is True and result["explanation"]["steps"]
    assert client.predict("", api_name="/analyze") == {"error": "Paste or upload a transcript first."}


CHROMIUM = "/usr/bin/chromium"


def test_browser_end_to_end(server, tmp_path):
    """Headless Chromium loads the page, runs an example and sees the verdict and the highlighted tactics."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.goto(server, wait_until="load")
        page.wait_for_selector("#analyze-button", timeout=60_000)
        page.locator("#transcript-input textarea").fill(app.load_example("scam_ecommerce_refund"))
        page.locator("#analyze-button").click()
        page.wait_for_selector("#risk-badge", timeout=60_000)
        assert page.locator("#risk-badge").get_attribute("data-level") in ("caution", "danger")
        assert page.locator("#transcript .chip").count() > 0
        assert page.locator("#explanation li a[href^='#turn-']").count() > 0
        page.screenshot(path=str(tmp_path / "analyze.png"), full_page=True)
        browser.close()
