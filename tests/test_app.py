"""Web demo handlers (no browser) and the Gradio API from gradio_client."""
import html
import os
import re
import subprocess
import sys
import time

import gradio as gr
import pytest

import app
from analyzer.chain.grounded import ADVICE
from analyzer.taxonomy import SCAM_TYPES, TACTIC_BY_ID, WHY_ZH
from tests.conftest import REPO, free_port, jsonl


def two_calls() -> str:
    """Two different calls pasted one after the other, separated by a blank line."""
    return app.load_example("scam_ecommerce_refund").strip() + "\n\n" + app.load_example("benign_bank_warning")


def html_unescape(text: str) -> str:
    return html.unescape(text)


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
    assert "fake e-commerce refund" in badge and "冒充电商" not in badge
    assert app.ADVICE_EN["danger"][0] in explanation and ADVICE["danger"][0] not in explanation


def test_english_switch_redraws_the_current_results():
    """Switching the language redraws the shown results: labels, tactics, scam type, reasoning and advice."""
    result, _, badge, transcript, _, explanation = app.analyze_click(app.load_example("scam_ecommerce_refund"))
    level = result["explanation"].risk_level
    assert "诈骗概率" in badge and ADVICE[level][0] in explanation
    header, hint, live_hint, selector, badge, transcript, explanation, *_ = app.relabel("English", result, None)
    assert "Scam-call analyzer" in header and "blank line" in hint and "turn by turn" in live_hint
    assert "scam probability" in badge and "fake e-commerce refund" in badge and "诈骗概率" not in badge
    assert "Impersonation" in transcript and "冒充身份" not in transcript and "turn 1" in transcript
    assert "Advice" in explanation and app.ADVICE_EN[level][0] in explanation
    assert not any(a in explanation for a in ADVICE[level])
    steps = result["explanation"].steps
    assert steps and all(TACTIC_BY_ID[s.tactic].definition in html_unescape(explanation) for s in steps)
    assert not any(why in explanation for why in WHY_ZH.values())
    _, _, _, _, badge, transcript, explanation, *_ = app.relabel("中文", result, None)
    assert "诈骗概率" in badge and "冒充电商/快递客服退款理赔" in badge and "冒充身份" in transcript
    assert ADVICE[level][0] in explanation and result["explanation"].steps[0].reasoning in html_unescape(explanation)


def test_english_switch_redraws_the_live_call():
    session, badge, *_ = app.live_add(None, "客服", "您好，我是京东金融客服，您的金条需要注销", "中文")
    assert "诈骗概率" in badge
    *_, live_badge, live_transcript = app.relabel("English", None, session)
    assert "scam probability" in live_badge and "turn 1" in live_transcript
    out = app.relabel("English", None, None)  # nothing shown yet: nothing to redraw
    assert all(o == gr.skip() for o in (out[4], out[5], out[6], out[7], out[8]))


def test_scam_types_have_english_names():
    assert set(app.SCAM_TYPE_EN) == set(SCAM_TYPES)
    assert all(name and not re.search(r"[\u4e00-\u9fff]", name) for name in app.SCAM_TYPE_EN.values())
    assert app.scam_type_name("ecommerce_refund", "en") == "fake e-commerce refund"
    assert app.scam_type_name("ecommerce_refund", "zh") == SCAM_TYPES["ecommerce_refund"]
    assert set(app.ADVICE_EN) == set(ADVICE) and all(app.ADVICE_EN.values())


def test_blank_line_inside_a_pasted_call_keeps_every_turn():
    """A blank line inside one call (same speakers on both sides) no longer cuts the call to its first part."""
    lines = app.load_example("scam_ecommerce_refund").strip().split("\n")[:7]
    text = "\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:])
    badge, transcript, _, _ = app.analyze_text(text, "none", "中文")
    assert transcript.count('class="turn') == 7
    assert 'id="calls-notice"' in badge and "找到 2 通通话" in badge and "合并分析全部 7 轮" in badge
    result, selector, *_ = app.analyze_click(text)
    assert len(result["dialogue"].turns) == 7
    assert selector["visible"] is True and selector["value"] == app.ALL
    assert [value for _, value in selector["choices"]] == ["1", "2", app.ALL]
    _, _, transcript, _, _ = app.choose_call(result, "2")  # the user can still split it
    assert transcript.count('class="turn') == 5


def test_single_turn_part_is_read_as_part_of_the_call():
    text = "客服：您好，我是淘宝客服\n用户：什么事\n客服：您的订单有问题\n\n旁白：（对方停顿了一下）"
    badge, transcript, _, _ = app.analyze_text(text, "none", "中文")
    assert transcript.count('class="turn') == 4 and "有的段只有一句" in badge
    badge, *_ = app.analyze_text(text, "none", "English")
    assert "2 calls found" in badge and "single turn" in badge


def test_several_pasted_calls_get_a_selector():
    badge, transcript, _, _ = app.analyze_text(two_calls(), "none", "中文")
    assert "找到 2 通通话，正在显示第 1 通（12 轮）" in badge and transcript.count('class="turn') == 12
    result, selector, *_ = app.analyze_click(two_calls())
    assert selector["visible"] is True and selector["value"] == "1" and len(selector["choices"]) == 3
    result, badge, transcript, plot, explanation = app.choose_call(result, "2")
    assert "正在显示第 2 通（13 轮）" in badge and "刘姐" in transcript and "陈阿姨" not in transcript and plot is not None
    result, badge, transcript, _, _ = app.choose_call(result, app.ALL)
    assert transcript.count('class="turn') == 25 and "合并为一通" in badge
    result, badge, *_ = app.choose_call(result, "9")  # a stale choice falls back to the first call shown
    assert result["choice"] == "1"


def test_upload_with_several_calls_shows_each(write, dialogue_dict):
    calls = [dialogue_dict, {"id": "d2", "turns": [{"speaker": "妈妈", "text": "晚上回来吃饭吗"},
                                                   {"speaker": "我", "text": "回来，七点到"}]},
             {"id": "d3", "turns": [{"speaker": "客服", "text": "您好，我是支付宝客服，您的百万保障要扣费了"},
                                    {"speaker": "用户", "text": "怎么关闭"}]}]
    text = jsonl(*calls)  # what the upload puts in the text box
    badge, transcript, _, _ = app.analyze_text(text, "none", "中文")
    assert "找到 3 通通话" in badge and "淘宝客服" in transcript
    assert app.load_file(str(write("calls.jsonl", text)), "", "中文") == (text, "")
    result, selector, *_ = app.analyze_click(text)
    assert [value for _, value in selector["choices"]] == ["1", "2", "3"]  # no "all as one" for separate records
    _, badge, transcript, _, _ = app.choose_call(result, "3")
    assert "支付宝" in transcript and "第 3 通" in badge


def test_left_out_records_are_named(dialogue_dict):
    text = jsonl(dialogue_dict) + '{"id": "bad", "turns": [}\n'
    badge, transcript, _, _ = app.analyze_text(text, "none", "English")
    assert "1 record(s) could not be read and were left out" in badge and "input:2" in badge
    assert 'class="turn' in transcript
    assert app.analyze_click(text)[1]["visible"] is False  # one call: no selector


def test_plot_labels_stay_clear_of_the_data():
    """No label sits on the axes (where the 0.9-1.0 band and the alert mark are): the legend is below them."""
    fig = app.risk_plot([0.2, 0.5, 0.97, 0.99, 1.0, 1.0, 0.98], 2, 0.9641)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    area = ax.get_window_extent(renderer)
    labels = list(ax.texts) + [legend for legend in [ax.get_legend(), *fig.legends] if legend is not None]
    assert labels, "the threshold and the alert are labelled"
    for label in labels:
        assert not label.get_window_extent(renderer).overlaps(area), label
    legend_text = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "alert at turn 3" in legend_text and "threshold" in legend_text
    assert ax.get_ylim()[1] >= 1.05  # markers at 1.0 are not cut by the frame
    # the page's floating block label of the plots gets room above the figure (checked in the browser test too)
    assert re.search(r"#risk-plot, *#live-plot *\{padding-top: *\d+px", app.CSS)


def test_narrow_screens_put_the_verdict_first():
    assert re.search(r"@media \(max-width: *\d+px\) *\{[^}]*#analyze-row[^}]*\}\s*#results-col *\{order: *-1",
                     app.CSS)
    demo = app.build_demo()
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert {"analyze-row", "results-col", "input-col", "call-select", "risk-plot", "live-plot"} <= ids


@pytest.mark.parametrize("name,data,needle", [
    ("junk.txt", bytes(range(256)) * 8, "cannot be decoded"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300), "binary"),
    ("control.txt", bytes([1, 2, 3, 4, 5, 6, 7, 8, 65]) * 50, "binary"),
    ("empty.txt", b"  \n", "empty")])
def test_junk_upload_keeps_the_text_box_and_says_why(write, name, data, needle):
    text, message = app.load_file(str(write(name, data)), "客服：原来的文字", "中文")
    assert text == "客服：原来的文字"
    assert 'class="error-box"' in message and "无法读取上传的文件" in message and needle in message


def test_text_uploads_still_load(write):
    for name, data in (("utf8.txt", "\ufeff客服：您好\n用户：你好".encode("utf-8")),
                       ("gbk.txt", "客服：您好\n用户：你好".encode("gbk"))):
        text, message = app.load_file(str(write(name, data)), "旧的", "English")
        assert text == "客服：您好\n用户：你好" and message == ""
    assert app.load_file(None, "旧的") == ("旧的", "")


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
    result = client.predict(two_calls(), api_name="/analyze")
    assert result["notice"].startswith("2 calls found") and len(result["prediction"]["turns"]) == 12


CHROMIUM = "/usr/bin/chromium"


def test_browser_end_to_end(server, tmp_path):
    """Headless Chromium: a two-call paste (notice, call selector), the English switch, and a 390 px phone."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.goto(server, wait_until="load")
        page.wait_for_selector("#analyze-button", timeout=60_000)
        page.locator("#transcript-input textarea").fill(two_calls())
        page.locator("#analyze-button").click()
        page.wait_for_selector("#risk-badge", timeout=60_000)
        expect(page.locator("#calls-notice")).to_contain_text("找到 2 通通话", timeout=10_000)
        assert page.locator("#risk-badge").get_attribute("data-level") in ("caution", "danger")
        assert page.locator("#transcript .chip").count() > 0
        assert page.locator("#explanation li a[href^='#turn-']").count() > 0
        assert page.locator("#transcript .turn").count() == 12
        label = page.locator("#risk-plot [data-testid='block-label']").bounding_box()  # clear of the figure
        figure = page.locator("#risk-plot img").bounding_box()
        assert label["y"] + label["height"] <= figure["y"] + 1, (label, figure)

        page.locator("#call-select input").click()  # the selector: pick the second call
        page.get_by_role("option", name=re.compile("第 2 通")).click()
        expect(page.locator("#transcript")).to_contain_text("刘姐", timeout=60_000)
        expect(page.locator("#calls-notice")).to_contain_text("第 2 通")
        assert page.locator("#transcript .turn").count() == 13

        page.locator("#language").get_by_text("English").click()  # the language switch redraws the results
        expect(page.locator("#risk-badge")).to_contain_text("scam probability", timeout=30_000)
        expect(page.locator("#calls-notice")).to_contain_text("2 calls found")
        expect(page.locator("#explanation")).to_contain_text("Advice")
        expect(page.locator("#advice")).to_contain_text(app.ADVICE_EN[page.locator("#risk-badge").get_attribute(
            "data-level")][0])
        page.screenshot(path=str(tmp_path / "analyze.png"), full_page=True)

        phone = browser.new_page(viewport={"width": 390, "height": 844})  # the verdict comes first on a phone
        phone.goto(server, wait_until="load")
        phone.wait_for_selector("#analyze-button", timeout=60_000)
        phone.locator("#transcript-input textarea").fill(app.load_example("scam_ecommerce_refund"))
        phone.locator("#analyze-button").click()
        phone.wait_for_selector("#risk-badge", timeout=60_000)
        verdict = phone.locator("#risk-badge").bounding_box()
        textbox = phone.locator("#transcript-input textarea").bounding_box()
        assert verdict["y"] + verdict["height"] <= textbox["y"], (verdict, textbox)
        phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        browser.close()


def test_text_without_speakers_gets_a_message_for_people():
    import app
    badge = app.analyze_text("你好啊\n今天天气不错\n我们出去玩吧", "none", "English")[0]
    assert "No speakers found" in badge and "--format" not in badge
