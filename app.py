"""Gradio web demo: paste or upload a transcript, or type a call turn by turn, and see tactics, risk and why.

    python app.py            # http://127.0.0.1:7860 (make demo)

Handlers are plain functions (tested without a browser); `build_demo()` wires them into Blocks. Each browser
session keeps its own live call in `gr.State`, so concurrent users never see each other's data.
"""
from __future__ import annotations

import html
import os
from functools import lru_cache
from pathlib import Path

import gradio as gr

from analyzer.api import Analyzer
from analyzer.chain.backends import ENV_LLM
from analyzer.readers import InputError, read_text
from analyzer.taxonomy import RISK_LEVEL_EN, RISK_LEVEL_ZH, TACTIC_BY_ID

ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = ROOT / "examples"
MAX_CHARS = 20_000
MAX_TURNS = 200
LANGS = {"中文": "zh", "English": "en"}

TEXT = {
    "zh": {"title": "诈骗电话分析", "subtitle": "粘贴或上传通话记录，逐轮查看诈骗话术与风险；也可以在实时模式中一句一句输入。",
           "risk": "风险", "prob": "诈骗概率", "alert": "第 {n} 轮触发预警", "no_alert": "未触发预警",
           "steps": "逐步说明", "advice": "建议", "backend": "解释来源", "not_llm": "（由模型结果生成，非 LLM）",
           "turn": "第 {n} 轮", "error": "无法分析：", "empty": "请先粘贴或上传通话记录。",
           "too_long": f"输入太长（超过 {MAX_CHARS:,} 个字符），请分段分析。",
           "too_many": f"轮次太多（超过 {MAX_TURNS} 轮），请分段分析。", "type": "可能的诈骗类型",
           "live_hint": "在通话进行中逐句输入，每加一句就更新风险。", "levels": RISK_LEVEL_ZH,
           "verdicts": {"scam": "诈骗", "benign": "正常", "uncertain": "存疑"}},
    "en": {"title": "Scam-call analyzer", "subtitle": "Paste or upload a transcript to see tactics and risk turn by "
           "turn, or type a call as it happens in live mode.", "risk": "Risk", "prob": "scam probability",
           "alert": "alert at turn {n}", "no_alert": "no alert", "steps": "Step by step", "advice": "Advice",
           "backend": "Explanation by", "not_llm": "(from the model's findings, not an LLM)", "turn": "turn {n}",
           "error": "Cannot analyze: ", "empty": "Paste or upload a transcript first.",
           "too_long": f"The input is too long (over {MAX_CHARS:,} characters); split it.",
           "too_many": f"Too many turns (over {MAX_TURNS}); split the transcript.", "type": "likely scam type",
           "live_hint": "Type the call turn by turn while it happens; the risk updates with each turn.",
           "levels": RISK_LEVEL_EN,
           "verdicts": {"scam": "scam", "benign": "benign", "uncertain": "uncertain"}},
}
COLORS = {"insufficient": "#6e7781", "safe": "#1a7f37", "caution": "#b35900", "danger": "#c62828"}
CSS = """
.risk-badge {display:inline-block;padding:10px 18px;border-radius:10px;color:#fff;font-size:1.3em;font-weight:600}
.turn {padding:6px 10px;margin:4px 0;border-left:4px solid #ddd;border-radius:4px}
.turn.flagged {border-left-color:#c62828;background:#fff5f5}
.turn .who {font-weight:600;margin-right:6px}
.chip {display:inline-block;background:#c62828;color:#fff;border-radius:10px;padding:1px 8px;margin:0 3px;font-size:.85em}
.turn .idx {color:#888;font-size:.8em;margin-right:6px}
.error-box {padding:10px;border-radius:8px;background:#fff3cd;color:#7a4b00}
"""


@lru_cache(maxsize=1)
def analyzer() -> Analyzer:
    return Analyzer.from_pretrained(os.environ.get("SCAM_ANALYZER_MODEL") or None)


def backends() -> list[str]:
    """'none' plus the configured LLM backends ($SCAM_ANALYZER_LLM and comma-separated $SCAM_ANALYZER_LLM_CHOICES)."""
    choices = ["none"]
    for value in [os.environ.get(ENV_LLM, "")] + os.environ.get("SCAM_ANALYZER_LLM_CHOICES", "").split(","):
        if value.strip() and value.strip() not in choices:
            choices.append(value.strip())
    return choices


def examples() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES_DIR.glob("*.txt"))}


def tactic_name(tactic: str, lang: str) -> str:
    t = TACTIC_BY_ID[tactic]
    return t.zh if lang == "zh" else t.en


# ------------------------------------------------------------------ rendering
def error_html(message: str, lang: str) -> str:
    return f'<div class="error-box">{html.escape(TEXT[lang]["error"] + message)}</div>'


def badge_html(probability: float, level: str, alert_turn, scam_type, lang: str) -> str:
    t = TEXT[lang]
    alert = t["alert"].format(n=alert_turn + 1) if alert_turn is not None else t["no_alert"]
    kind = f" · {t['type']}: {html.escape(scam_type)}" if scam_type else ""
    return (f'<div id="risk-badge" data-level="{level}"><span class="risk-badge" style="background:{COLORS[level]}">'
            f'{t["risk"]}: {t["levels"][level]}</span> <span>{t["prob"]} {probability:.0%} · {alert}{kind}</span></div>')


def transcript_html(turns, turn_predictions, lang: str) -> str:
    rows = []
    for turn, pred in zip(turns, turn_predictions):
        chips = "".join(f'<span class="chip" data-tactic="{p}">{html.escape(tactic_name(p, lang))}</span>'
                        for p in pred.predicted)
        flagged = " flagged" if pred.predicted else ""
        rows.append(f'<div class="turn{flagged}" id="turn-{pred.index}"><span class="idx">'
                    f'{TEXT[lang]["turn"].format(n=pred.index + 1)}</span><span class="who">'
                    f'{html.escape(turn.speaker)}</span>{html.escape(turn.text)} {chips}</div>')
    return f'<div id="transcript">{"".join(rows)}</div>'


def explanation_html(explanation, lang: str) -> str:
    t = TEXT[lang]
    head = (f'<p><b>{t["backend"]}</b>: {html.escape(explanation.backend)} '
            f'{"" if explanation.written_by_llm else t["not_llm"]} · {html.escape(explanation.status)} · '
            f'{t["verdicts"][explanation.verdict]}</p>')
    steps = "".join(
        f'<li><a href="#turn-{s.turns[0]}">{t["turn"].format(n=s.turns[0] + 1)}</a> '
        f'<span class="chip">{html.escape(tactic_name(s.tactic, lang))}</span> “{html.escape(s.quote)}” — '
        f'{html.escape(s.reasoning)}</li>' for s in explanation.steps)
    advice = "".join(f"<li>{html.escape(a)}</li>" for a in explanation.advice)
    return (f'<div id="explanation">{head}<h4>{t["steps"]}</h4><ol>{steps}</ol>'
            f'<h4>{t["advice"]}</h4><ul id="advice">{advice}</ul></div>')


def risk_plot(risks: list[float], alert_turn, alert_threshold: float):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.6))
    x = list(range(1, len(risks) + 1))
    ax.plot(x, risks, marker="o", color="#c62828")
    ax.axhline(alert_threshold, color="#888", linestyle=":", lw=1)
    if alert_turn is not None:
        ax.axvline(alert_turn + 1, color="#c62828", linestyle="--", lw=1)
        ax.annotate("alert", (alert_turn + 1, risks[alert_turn]), textcoords="offset points", xytext=(5, -12))
    ax.set(ylim=(0, 1.02), xlabel="turn", ylabel="risk")
    ax.set_xticks(x if len(x) <= 30 else x[:: max(1, len(x) // 15)])
    fig.tight_layout()
    plt.close(fig)
    return fig


# ------------------------------------------------------------------ handlers
def parse_input(text: str, lang: str):
    if not text or not text.strip():
        raise InputError(TEXT[lang]["empty"])
    if len(text) > MAX_CHARS:
        raise InputError(TEXT[lang]["too_long"])
    dialogues, _ = read_text(text, name="input")
    dialogue = dialogues[0]
    if len(dialogue.turns) > MAX_TURNS:
        raise InputError(TEXT[lang]["too_many"])
    return dialogue


def analyze_text(text: str, backend: str = "none", language: str = "中文"):
    """Handler of the analyze tab: (badge, transcript, plot, explanation) HTML and figure."""
    lang = LANGS.get(language, "zh")
    try:
        dialogue = parse_input(text, lang)
        prediction = analyzer().analyze(dialogue)
        explanation = analyzer().explainer(backend if backend in backends() else "none").explain(dialogue, prediction)
    except InputError as err:
        return error_html(str(err), lang), "", None, ""
    return (badge_html(prediction.scam_probability, prediction.risk_level, prediction.alert_turn,
                       prediction.scam_type, lang),
            transcript_html(dialogue.turns, prediction.turns, lang),
            risk_plot([t.risk for t in prediction.turns], prediction.alert_turn, analyzer().alert_threshold),
            explanation_html(explanation, lang))


def load_file(file) -> str:
    if file is None:
        return ""
    data = Path(file if isinstance(file, str) else file.name).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gbk")
        except UnicodeDecodeError:
            return ""


def load_example(name: str) -> str:
    return examples().get(name, "")


def live_add(session, speaker: str, text: str, language: str = "中文"):
    """Handler of the live tab: add one turn to this browser session's call."""
    lang = LANGS.get(language, "zh")
    if session is None:
        session = analyzer().live()
    if not (text or "").strip():
        return session, error_html(TEXT[lang]["empty"], lang), gr.skip(), None, ""
    if len(session.turns) >= MAX_TURNS or len(text) > MAX_CHARS:
        return session, error_html(TEXT[lang]["too_many" if len(session.turns) >= MAX_TURNS else "too_long"], lang), \
            gr.skip(), None, ""
    update = session.add_turn((speaker or "").strip() or "来电", text.strip())
    prediction = session.prediction()
    badge = badge_html(update.risk, update.risk_level, update.alert_turn, prediction.scam_type, lang)
    plot = risk_plot([t.risk for t in prediction.turns], update.alert_turn, analyzer().alert_threshold)
    return session, badge, transcript_html(session.turns, prediction.turns, lang), plot, ""


def live_reset():
    return None, "", "", None, ""


def analyze_api(text: str) -> dict:
    """API endpoint (/analyze): the prediction and the offline explanation as JSON."""
    try:
        dialogue = parse_input(text, "en")
    except InputError as err:
        return {"error": str(err)}
    prediction = analyzer().analyze(dialogue)
    explanation = analyzer().explainer("none").explain(dialogue, prediction)
    return {"prediction": prediction.to_dict(), "explanation": explanation.to_dict()}


# ------------------------------------------------------------------ layout
def build_demo() -> gr.Blocks:
    t = TEXT["zh"]
    with gr.Blocks(title=t["title"]) as demo:
        header = gr.Markdown(f"# {t['title']}\n{t['subtitle']}")
        with gr.Row():
            language = gr.Radio(list(LANGS), value="中文", label="语言 / Language")
            backend = gr.Dropdown(backends(), value="none", label="解释后端 / Explanation backend")
        with gr.Tab("分析通话 / Analyze", id="analyze"):
            with gr.Row():
                with gr.Column(scale=1):
                    example = gr.Dropdown(list(examples()), label="示例 / Examples", value=None)
                    text = gr.Textbox(lines=12, label="通话记录 / Transcript", elem_id="transcript-input",
                                      placeholder="客服：您好，我是……\n用户：……")
                    upload = gr.File(label="上传 / Upload (txt, jsonl, json, csv)",
                                     file_types=[".txt", ".jsonl", ".json", ".csv"])
                    run = gr.Button("分析 / Analyze", variant="primary", elem_id="analyze-button")
                with gr.Column(scale=1):
                    badge = gr.HTML(elem_id="badge")
                    plot = gr.Plot(label="风险变化 / Risk over turns")
            transcript = gr.HTML()
            explanation = gr.HTML()
        with gr.Tab("实时模式 / Live call", id="live"):
            gr.Markdown(t["live_hint"])
            session = gr.State(None)
            with gr.Row():
                speaker = gr.Textbox(value="来电", label="说话人 / Speaker", scale=1, elem_id="live-speaker")
                utterance = gr.Textbox(label="这一句 / Utterance", scale=4, elem_id="live-input")
                add = gr.Button("加入 / Add", variant="primary", scale=1, elem_id="live-add")
                reset = gr.Button("重新开始 / Reset", scale=1)
            live_badge = gr.HTML(elem_id="live-badge")
            live_plot = gr.Plot()
            live_transcript = gr.HTML()

        def relabel(language):
            lang = LANGS.get(language, "zh")
            return f"# {TEXT[lang]['title']}\n{TEXT[lang]['subtitle']}"

        language.change(relabel, language, header, api_name=False)
        example.change(load_example, example, text, api_name=False)
        upload.upload(load_file, upload, text, api_name=False)
        run.click(analyze_text, [text, backend, language], [badge, transcript, plot, explanation], api_name=False)
        add.click(live_add, [session, speaker, utterance, language],
                  [session, live_badge, live_transcript, live_plot, utterance], api_name=False)
        utterance.submit(live_add, [session, speaker, utterance, language],
                         [session, live_badge, live_transcript, live_plot, utterance], api_name=False)
        reset.click(live_reset, None, [session, live_badge, live_transcript, live_plot, utterance], api_name=False)
        api_text = gr.Textbox(visible=False)
        api_out = gr.JSON(visible=False)
        api_text.submit(analyze_api, api_text, api_out, api_name="analyze")
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo


def main() -> None:
    analyzer()  # load the model before the first request
    build_demo().launch(server_name=os.environ.get("HOST", "127.0.0.1"), server_port=int(os.environ.get("PORT", 7860)),
                        css=CSS, show_error=False)


if __name__ == "__main__":
    main()
