"""Gradio web demo: paste or upload a transcript, or type a call turn by turn, and see tactics, risk and why.

    python app.py            # http://127.0.0.1:7860 (make demo)

Handlers are plain functions (tested without a browser); `build_demo()` wires them into Blocks. Each browser
session keeps its own results and live call in `gr.State`, so concurrent users never see each other's data, and
switching the language redraws the current results without analysing again.

Several calls in one input (a JSONL/JSON/CSV upload, or pasted text with blank lines) all stay reachable: a notice
says how many were found and the "choose call" selector shows any one of them. In pasted text a blank line
separates calls, unless the parts look like one call with blank lines inside it (see `looks_like_one_call`); then
they are analysed together, and the selector still offers each part on its own.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

import gradio as gr

from analyzer.api import Analyzer
from analyzer.chain.backends import ENV_LLM
from analyzer.readers import InputError, read_text, sniff_format
from analyzer.readers.base import source_from_bytes
from analyzer.schema import Dialogue
from analyzer.taxonomy import RISK_LEVEL_EN, RISK_LEVEL_ZH, SCAM_TYPES, TACTIC_BY_ID

ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = ROOT / "examples"
MAX_CHARS = 20_000
MAX_TURNS = 200
LANGS = {"中文": "zh", "English": "en"}
ALL = "all"  # the selector's value for "all parts of a paste as one call"

TEXT = {
    "zh": {"title": "诈骗电话分析", "subtitle": "粘贴或上传通话记录，逐轮查看诈骗话术与风险；也可以在实时模式中一句一句输入。",
           "risk": "风险", "prob": "诈骗概率", "alert": "第 {n} 轮触发预警", "no_alert": "未触发预警",
           "steps": "逐步说明", "advice": "建议", "backend": "解释来源", "not_llm": "（由模型结果生成，非 LLM）",
           "turn": "第 {n} 轮", "error": "无法分析：", "empty": "请先粘贴或上传通话记录。",
           "too_long": f"输入太长（超过 {MAX_CHARS:,} 个字符），请分段分析。",
           "too_many": f"轮次太多（超过 {MAX_TURNS} 轮），请分段分析。",
           "no_speakers": "没有找到说话人。请每行写成“说话人：内容”，例如“客服：您好”。", "type": "可能的诈骗类型",
           "live_hint": "在通话进行中逐句输入，每加一句就更新风险。", "levels": RISK_LEVEL_ZH,
           "verdicts": {"scam": "诈骗", "benign": "正常", "uncertain": "存疑"},
           "input_hint": "每行一句：`说话人：内容`。空行分隔不同的通话；但如果某一段只有一句，或者后面各段的说话人都在"
                         "第一段出现过，就当作同一通通话里的空行，合并分析。找到多通通话时会提示，并可在“选择通话”中"
                         "逐通查看或合并。上传的 JSONL / JSON / CSV 文件里的每条记录都是一通通话。",
           "select": "选择通话 / Choose call", "call": "第 {k} 通（{turns} 轮）：{preview}",
           "all": "全部合并为一通（{turns} 轮）",
           "found": "找到 {n} 通通话，正在显示第 {k} 通（{turns} 轮）；可在“选择通话”中切换。",
           "merged": "找到 {n} 通通话（用空行分隔），但看起来是同一通{why}，所以合并分析全部 {turns} 轮；"
                     "如果确实是不同的通话，请在“选择通话”中逐通查看。",
           "why_single": "（有的段只有一句）", "why_speakers": "（后面各段的说话人都在第一段出现过）",
           "all_chosen": "找到 {n} 通通话，按你的选择合并为一通分析（{turns} 轮）。",
           "skipped": "有 {n} 条记录无法读取，已略过：{errors}",
           "bad_file": "无法读取上传的文件（文本框保持不变）：", "loaded": "已载入 {name}。"},
    "en": {"title": "Scam-call analyzer", "subtitle": "Paste or upload a transcript to see tactics and risk turn by "
           "turn, or type a call as it happens in live mode.", "risk": "Risk", "prob": "scam probability",
           "alert": "alert at turn {n}", "no_alert": "no alert", "steps": "Step by step", "advice": "Advice",
           "backend": "Explanation by", "not_llm": "(from the model's findings, not an LLM)", "turn": "turn {n}",
           "error": "Cannot analyze: ", "empty": "Paste or upload a transcript first.",
           "too_long": f"The input is too long (over {MAX_CHARS:,} characters); split it.",
           "too_many": f"Too many turns (over {MAX_TURNS}); split the transcript.",
           "no_speakers": "No speakers found. Write one turn per line as 'speaker: text', e.g. 'Agent: hello'.", "type": "likely scam type",
           "live_hint": "Type the call turn by turn while it happens; the risk updates with each turn.",
           "levels": RISK_LEVEL_EN,
           "verdicts": {"scam": "scam", "benign": "benign", "uncertain": "uncertain"},
           "input_hint": "One turn per line as `speaker: text`. A blank line separates calls, except when a part "
                         "has a single turn or every speaker of the later parts already speaks in the first part: "
                         "then the blank lines are read as breaks inside one call and it is analysed whole. When "
                         "several calls are found a notice says so, and “Choose call” shows each one or all together. "
                         "In an uploaded JSONL / JSON / CSV file every record is a call.",
           "select": "选择通话 / Choose call", "call": "call {k} ({turns} turns): {preview}",
           "all": "all as one call ({turns} turns)",
           "found": "{n} calls found; showing call {k} ({turns} turns). Pick another under “Choose call”.",
           "merged": "{n} calls found (separated by blank lines), but they look like one call{why}, so all {turns} "
                     "turns are analysed together. If they really are separate calls, pick one under “Choose call”.",
           "why_single": " (some parts have a single turn)",
           "why_speakers": " (every speaker of the later parts already speaks in the first)",
           "all_chosen": "{n} calls found; analysing them together as one call ({turns} turns), as chosen.",
           "skipped": "{n} record(s) could not be read and were left out: {errors}",
           "bad_file": "Cannot read the uploaded file (the text box is unchanged): ", "loaded": "Loaded {name}."},
}

# English names of the scam types (taxonomy.SCAM_TYPES holds the Chinese ones), for every id.
SCAM_TYPE_EN: dict[str, str] = {
    "ecommerce_refund": "fake e-commerce refund",
    "fake_police": "fake police or prosecutors (safe account)",
    "student_loan": "student-loan cancellation / credit repair",
    "financial_product_cancel": "cancelling a financial product",
    "fake_loan": "fake loan (deposit or unfreezing fee)",
    "order_brushing": "order brushing for rebates",
    "fake_investment": "fake investment",
    "romance": "romance scam (pig butchering)",
    "impersonate_acquaintance": "impersonating a relative or boss",
    "prize_lottery": "prize or lottery",
    "second_hand": "second-hand trade",
    "medical_etc": "medical-insurance card / ETC notice",
    "kidnapping": "fake kidnapping / relative in trouble",
    "bank_phishing": "impersonating a bank",
    "identity_theft": "identity theft",
    "phishing": "phishing link",
    "postal_parcel": "mail or parcel scam",
    "credit_card_limit": "credit-card limit, instalments or rate cut",
    "tax_refund": "tax refund or subsidy claim",
    "flight_rebooking": "flight rebooking or cancellation",
    "ticket_scalping": "concert or train ticket grabbing",
    "rental": "rental or agency deposit",
    "recruitment": "job or part-time offer (training fee)",
    "military_procurement": "fake military or police procurement",
    "game_trading": "fake game trading (items, accounts, top-ups)",
    "crypto": "cryptocurrency / USDT",
    "teacher_fee": "fake teacher collecting fees (parents' group)",
    "online_gambling": "online gambling",
    "customs_smuggling": "customs anti-smuggling / cross-border parcel",
    "sextortion": "sextortion",
    "deepfake_impersonation": "AI face- or voice-swap impersonation",
    "fake_sms_points": "fake base-station SMS (points, account alert)",
    "wechat_agent": "WeChat reseller or franchise",
    "pension_social_security": "pension or social-security verification",
    "traffic_violation": "traffic violation or car-insurance refund",
    "fake_charity": "fake charity",
    "refund_recovery": "recovering losses (a second scam)",
    "health_products": "health products or elderly-care schemes",
    "telecom_upgrade": "impersonating a phone carrier (bill, plan, suspension)",
    "fan_reward": "fan perks or idol giveaways",
    "insurance_refund": "impersonating an insurer (cancellation or claim)",
    "debt_collection": "fake debt collection",
    "utility_bill": "utility bill arrears",
    "visa_study": "study-abroad or visa agency",
    "pet_sale": "online pet sale (vaccine, crate or insurance fees)",
    "antique_collection": "collectibles or antiques appraisal and auction",
    "money_mule": "renting out bank cards or laundering payments",
    "credit_card_issuance": "fake high-limit credit card or loan packaging fees",
    "certificate_exam": "guaranteed exam passes or certificates for a fee",
    "digital_rmb": "impersonating digital yuan or new payment promotions",
    "overseas_job": "high-paying jobs abroad",
    "fake_shopping": "cut-price online shopping or livestream deals",
    "other": "other",
}

# The offline explainer's advice in English (analyzer.chain.grounded.ADVICE holds the Chinese), per risk level.
ADVICE_EN: dict[str, list[str]] = {
    "danger": ["Hang up now. Do not download apps, share your screen or click links because the caller asks you to.",
               "Never give card numbers, verification codes or passwords; do not transfer money, take out loans or "
               "borrow from family and friends.",
               "Call the official number yourself (on the back of your card or in the official app) to check; do not "
               "call back a number the caller gave you.",
               "If you have already paid or shared information, call 110 or 96110 at once and ask your bank to "
               "freeze the account."],
    "caution": ["Do not do what the caller asks yet; hang up and check through the official app or the official "
                "customer-service number.",
                "Be very wary of any call that asks for a verification code, screen sharing or a transfer; if unsure, "
                "call 96110 for advice."],
    "safe": ["No clear scam tactic found so far.",
             "Still remember: real institutions never ask for verification codes or for transfers to a "
             "“safe account”."],
    "insufficient": ["The call is still too short to judge.",
                     "As it goes on, watch out: if the caller asks for a verification code, screen sharing or a "
                     "transfer, hang up at once and check."],
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
.notice {padding:8px 10px;margin-bottom:8px;border-radius:8px;background:#e8f0fe;color:#1a3e7a}
/* the plots' floating block label sits above the figure, not on its 0.9-1.0 band */
#risk-plot, #live-plot {padding-top:34px !important}
/* phones: the verdict column comes before the input column */
@media (max-width: 640px) {
  #analyze-row {flex-direction:column}
  #results-col {order:-1}
}
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


def lang_of(language: str) -> str:
    return LANGS.get(language, "zh")


def tactic_name(tactic: str, lang: str) -> str:
    t = TACTIC_BY_ID[tactic]
    return t.zh if lang == "zh" else t.en


def scam_type_name(scam_type: str, lang: str) -> str:
    if lang == "zh":
        return SCAM_TYPES.get(scam_type, scam_type)
    return SCAM_TYPE_EN.get(scam_type, scam_type.replace("_", " "))


# ------------------------------------------------------------------ reading several calls
@dataclass
class Calls:
    """What one input holds: its calls, and for pasted text with blank lines all parts as one call."""
    calls: list[Dialogue]
    merged: Optional[Dialogue] = None
    default: str = "1"  # the selector value shown first: "1".."N" or ALL
    reason: Optional[str] = None  # why the parts were read as one call: "single" or "speakers"
    skipped: list[str] = field(default_factory=list)  # messages of records left out

    def valid(self, choice) -> str:
        """The choice if this input has it, else the default."""
        choice = str(choice)
        if (choice == ALL and self.merged is not None) or (choice.isdigit() and 1 <= int(choice) <= len(self.calls)):
            return choice
        return self.default

    def pick(self, choice) -> Dialogue:
        choice = self.valid(choice)
        return self.merged if choice == ALL else self.calls[int(choice) - 1]

    def choices(self, lang: str) -> list[tuple[str, str]]:
        t = TEXT[lang]
        rows = []
        for k, dialogue in enumerate(self.calls, start=1):
            first = dialogue.turns[0]
            preview = f"{first.speaker}：{first.text}"
            preview = preview if len(preview) <= 24 else preview[:24] + "…"
            rows.append((t["call"].format(k=k, turns=len(dialogue.turns), preview=preview), str(k)))
        if self.merged is not None:
            rows.append((t["all"].format(turns=len(self.merged.turns)), ALL))
        return rows


def looks_like_one_call(parts: list[Dialogue]) -> Optional[str]:
    """Whether blank-line-separated parts of pasted text are one call, and why ("single"/"speakers"), else None.

    A part with a single turn is a stray paragraph of a call, not a call; parts whose speakers all already speak in
    the first part continue it. Parts of several turns that bring in new speakers are separate calls.
    """
    if any(len(p.turns) == 1 for p in parts):
        return "single"
    first = {t.speaker for t in parts[0].turns}
    if all({t.speaker for t in p.turns} <= first for p in parts[1:]):
        return "speakers"
    return None


def read_calls(text: str, lang: str) -> Calls:
    """All calls in pasted or uploaded text; raises InputError with a message for people."""
    if not text or not text.strip():
        raise InputError(TEXT[lang]["empty"])
    if len(text) > MAX_CHARS:
        raise InputError(TEXT[lang]["too_long"])
    fmt = sniff_format(text)
    try:
        dialogues, skipped = read_text(text, fmt=fmt, name="input", skip_invalid=True)
    except InputError as err:
        skipped, dialogues = [str(err)], []
    if not dialogues:
        reason = skipped[0] if skipped else TEXT[lang]["empty"]
        raise InputError(TEXT[lang]["no_speakers"] if "no speaker labels" in reason else reason)
    calls = Calls(dialogues, skipped=skipped)
    if fmt == "text" and len(dialogues) > 1:
        calls.merged = Dialogue(id="input", turns=[t for d in dialogues for t in d.turns])
        calls.reason = looks_like_one_call(dialogues)
        if calls.reason and len(calls.merged.turns) <= MAX_TURNS:
            calls.default = ALL
        else:
            calls.reason = None
    return calls


def checked(dialogue: Dialogue, lang: str) -> Dialogue:
    if len(dialogue.turns) > MAX_TURNS:
        raise InputError(TEXT[lang]["too_many"])
    return dialogue


# ------------------------------------------------------------------ rendering
def error_html(message: str, lang: str) -> str:
    return f'<div class="error-box">{html.escape(TEXT[lang]["error"] + message)}</div>'


def badge_html(probability: float, level: str, alert_turn, scam_type, lang: str) -> str:
    t = TEXT[lang]
    alert = t["alert"].format(n=alert_turn + 1) if alert_turn is not None else t["no_alert"]
    kind = (f' · {t["type"]}: <span class="scam-type" data-type="{html.escape(scam_type)}">'
            f'{html.escape(scam_type_name(scam_type, lang))}</span>') if scam_type else ""
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


def reasoning_en(step, dialogue: Dialogue, prediction) -> str:
    """English reasoning of a grounded step, from the tactic's English name and definition."""
    index = step.turns[0]
    tactic = TACTIC_BY_ID[step.tactic]
    speaker = dialogue.turns[index].speaker if index < len(dialogue.turns) else "?"
    probability = prediction.turns[index].tactics.get(step.tactic, 0.0) if index < len(prediction.turns) else 0.0
    return f"Turn {index + 1}, “{speaker}”: {tactic.en}: {tactic.definition} (model probability {probability:.2f})"


def explanation_html(explanation, lang: str, dialogue: Optional[Dialogue] = None, prediction=None) -> str:
    """The explanation; an offline (not LLM) one is written in the chosen language, an LLM's text is shown as is."""
    t = TEXT[lang]
    english = lang == "en" and not explanation.written_by_llm
    head = (f'<p><b>{t["backend"]}</b>: {html.escape(explanation.backend)} '
            f'{"" if explanation.written_by_llm else t["not_llm"]} · {html.escape(explanation.status)} · '
            f'{t["verdicts"][explanation.verdict]}</p>')

    def reasoning(step) -> str:
        if english and dialogue is not None and prediction is not None:
            return reasoning_en(step, dialogue, prediction)
        return step.reasoning

    steps = "".join(
        f'<li><a href="#turn-{s.turns[0]}">{t["turn"].format(n=s.turns[0] + 1)}</a> '
        f'<span class="chip">{html.escape(tactic_name(s.tactic, lang))}</span> “{html.escape(s.quote)}” — '
        f'{html.escape(reasoning(s))}</li>' for s in explanation.steps)
    advice_texts = ADVICE_EN[explanation.risk_level] if english else explanation.advice
    advice = "".join(f"<li>{html.escape(a)}</li>" for a in advice_texts)
    return (f'<div id="explanation">{head}<h4>{t["steps"]}</h4><ol>{steps}</ol>'
            f'<h4>{t["advice"]}</h4><ul id="advice">{advice}</ul></div>')


def risk_plot(risks: list[float], alert_turn, alert_threshold: float):
    """The running risk per turn; the legend sits below the axes so no label covers the data."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.0))
    x = list(range(1, len(risks) + 1))
    ax.plot(x, risks, marker="o", color="#c62828", label="risk")
    ax.axhline(alert_threshold, color="#888", linestyle=":", lw=1, label=f"alert threshold {alert_threshold:.2f}")
    if alert_turn is not None:
        ax.axvline(alert_turn + 1, color="#c62828", linestyle="--", lw=1, label=f"alert at turn {alert_turn + 1}")
    ax.set(ylim=(0, 1.08), xlabel="turn", ylabel="risk")  # headroom: markers at 1.0 stay inside the frame
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xticks(x if len(x) <= 30 else x[:: max(1, len(x) // 15)])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, frameon=False, fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def notice_lines(result: dict, lang: str) -> list[str]:
    """How many calls the input holds and which one is shown, and any records left out."""
    t, calls, choice = TEXT[lang], result["calls"], result["choice"]
    lines = []
    n = len(calls.calls)
    if n > 1:
        turns = len(result["dialogue"].turns)
        if choice == ALL and calls.reason and choice == calls.default:
            lines.append(t["merged"].format(n=n, why=t["why_" + calls.reason], turns=turns))
        elif choice == ALL:
            lines.append(t["all_chosen"].format(n=n, turns=turns))
        else:
            lines.append(t["found"].format(n=n, k=choice, turns=turns))
    if calls.skipped:
        errors = "; ".join(calls.skipped[:3]) + (" …" if len(calls.skipped) > 3 else "")
        lines.append(t["skipped"].format(n=len(calls.skipped), errors=errors))
    return lines


def notice_html(result: dict, lang: str) -> str:
    lines = notice_lines(result, lang)
    if not lines:
        return ""
    return (f'<div class="notice" id="calls-notice" data-calls="{len(result["calls"].calls)}">'
            + "<br>".join(html.escape(line) for line in lines) + "</div>")


def render(result: dict, lang: str, plot: bool = True):
    """(badge with the notice above it, transcript, plot, explanation) of an analysed call, in `lang`."""
    dialogue, prediction = result["dialogue"], result["prediction"]
    badge = notice_html(result, lang) + badge_html(prediction.scam_probability, prediction.risk_level,
                                                   prediction.alert_turn, prediction.scam_type, lang)
    figure = risk_plot([t.risk for t in prediction.turns], prediction.alert_turn,
                       analyzer().alert_threshold) if plot else None
    return (badge, transcript_html(dialogue.turns, prediction.turns, lang), figure,
            explanation_html(result["explanation"], lang, dialogue, prediction))


def selector_update(result: Optional[dict], lang: str):
    if result is None or len(result["calls"].choices(lang)) < 2:
        return gr.update(choices=[], value=None, visible=False)
    return gr.update(choices=result["calls"].choices(lang), value=result["choice"], visible=True)


# ------------------------------------------------------------------ handlers
def analyze_calls(calls: Calls, choice: str, backend: str, lang: str) -> dict:
    choice = calls.valid(choice)
    dialogue = checked(calls.pick(choice), lang)
    prediction = analyzer().analyze(dialogue)
    explanation = analyzer().explainer(backend if backend in backends() else "none").explain(dialogue, prediction)
    return {"calls": calls, "choice": choice, "dialogue": dialogue, "prediction": prediction,
            "explanation": explanation}


def analyze_click(text: str, backend: str = "none", language: str = "中文"):
    """Handler of the Analyze button: (result state, call selector, badge, transcript, plot, explanation)."""
    lang = lang_of(language)
    try:
        calls = read_calls(text, lang)
        result = analyze_calls(calls, calls.default, backend, lang)
    except InputError as err:
        return None, selector_update(None, lang), error_html(str(err), lang), "", None, ""
    return (result, selector_update(result, lang), *render(result, lang))


def analyze_text(text: str, backend: str = "none", language: str = "中文"):
    """The analysis of an input as (badge, transcript, plot, explanation): the call shown first, with the notice."""
    return analyze_click(text, backend, language)[2:]


def choose_call(result: Optional[dict], choice: str, backend: str = "none", language: str = "中文"):
    """Handler of the call selector: analyse the chosen call of the current input."""
    lang = lang_of(language)
    if result is None or choice is None:
        return result, gr.skip(), gr.skip(), gr.skip(), gr.skip()
    try:
        result = analyze_calls(result["calls"], str(choice), backend, lang)
    except InputError as err:
        return result, error_html(str(err), lang), "", None, ""
    return (result, *render(result, lang))


def relabel(language: str, result: Optional[dict] = None, session=None):
    """Handler of the language switch: the fixed texts, and the current results redrawn in the language."""
    lang = lang_of(language)
    t = TEXT[lang]
    if result is not None:
        badge, transcript, _, explanation = render(result, lang, plot=False)
    else:
        badge = transcript = explanation = gr.skip()
    live_badge, live_transcript = live_render(session, lang)
    return (f"# {t['title']}\n{t['subtitle']}", t["input_hint"], t["live_hint"], selector_update(result, lang),
            badge, transcript, explanation, live_badge, live_transcript)


def decode_upload(data: bytes, name: str) -> str:
    """The text of an uploaded file (UTF-8 or GBK); raises InputError for empty, binary or undecodable files."""
    for encoding in ("utf-8-sig", "gbk"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(f"{name}: cannot be decoded as UTF-8 or GBK; is it a text transcript?")
    source_from_bytes(text.encode("utf-8"), name)  # the readers' checks: empty, binary (NUL or control bytes)
    return text


def load_file(file, current: str = "", language: str = "中文"):
    """Handler of the upload: (text box, message); a file that is not a text transcript leaves the text box as is."""
    lang = lang_of(language)
    if file is None:
        return current, ""
    path = Path(file if isinstance(file, str) else file.name)
    try:
        text = decode_upload(path.read_bytes(), path.name)
    except (InputError, OSError) as err:
        message = str(err) if isinstance(err, InputError) else f"{path.name}: cannot be read"
        message = html.escape(TEXT[lang]["bad_file"] + message)
        return current, f'<div class="error-box" id="upload-error">{message}</div>'
    return text, ""


def load_example(name: str) -> str:
    return examples().get(name, "")


def live_render(session, lang: str):
    """(badge, transcript) of a live call so far; skips when there is none."""
    if session is None or not session.turns:
        return gr.skip(), gr.skip()
    prediction = session.prediction()
    badge = badge_html(prediction.turns[-1].risk, prediction.risk_level, prediction.alert_turn, prediction.scam_type,
                       lang)
    return badge, transcript_html(session.turns, prediction.turns, lang)


def live_add(session, speaker: str, text: str, language: str = "中文"):
    """Handler of the live tab: add one turn to this browser session's call."""
    lang = lang_of(language)
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
    """API endpoint (/analyze): the prediction and the offline explanation as JSON, of the call shown first.

    With several calls in the input, "notice" says how many and which one was analysed.
    """
    try:
        calls = read_calls(text, "en")
        dialogue = checked(calls.pick(calls.default), "en")
    except InputError as err:
        return {"error": str(err)}
    prediction = analyzer().analyze(dialogue)
    explanation = analyzer().explainer("none").explain(dialogue, prediction)
    out = {"prediction": prediction.to_dict(), "explanation": explanation.to_dict()}
    notice = notice_lines({"calls": calls, "choice": calls.default, "dialogue": dialogue}, "en")
    if notice:
        out["notice"] = " ".join(notice)
    return out


# ------------------------------------------------------------------ layout
def build_demo() -> gr.Blocks:
    t = TEXT["zh"]
    with gr.Blocks(title=t["title"]) as demo:
        header = gr.Markdown(f"# {t['title']}\n{t['subtitle']}")
        with gr.Row():
            language = gr.Radio(list(LANGS), value="中文", label="语言 / Language", elem_id="language")
            backend = gr.Dropdown(backends(), value="none", label="解释后端 / Explanation backend")
        result = gr.State(None)
        with gr.Tab("分析通话 / Analyze", id="analyze"):
            with gr.Row(elem_id="analyze-row"):
                with gr.Column(scale=1, elem_id="input-col"):
                    example = gr.Dropdown(list(examples()), label="示例 / Examples", value=None)
                    text = gr.Textbox(lines=12, label="通话记录 / Transcript", elem_id="transcript-input",
                                      placeholder="客服：您好，我是……\n用户：……")
                    input_hint = gr.Markdown(t["input_hint"], elem_id="input-hint")
                    upload = gr.File(label="上传 / Upload (txt, jsonl, json, csv)",
                                     file_types=[".txt", ".jsonl", ".json", ".csv"])
                    upload_message = gr.HTML(elem_id="upload-message")
                    run = gr.Button("分析 / Analyze", variant="primary", elem_id="analyze-button")
                with gr.Column(scale=1, elem_id="results-col"):
                    selector = gr.Dropdown([], label=t["select"], visible=False, elem_id="call-select",
                                           interactive=True)
                    badge = gr.HTML(elem_id="badge")
                    plot = gr.Plot(label="风险变化 / Risk over turns", elem_id="risk-plot")
            transcript = gr.HTML()
            explanation = gr.HTML()
        with gr.Tab("实时模式 / Live call", id="live"):
            live_hint = gr.Markdown(t["live_hint"])
            session = gr.State(None)
            with gr.Row():
                speaker = gr.Textbox(value="来电", label="说话人 / Speaker", scale=1, elem_id="live-speaker")
                utterance = gr.Textbox(label="这一句 / Utterance", scale=4, elem_id="live-input")
                add = gr.Button("加入 / Add", variant="primary", scale=1, elem_id="live-add")
                reset = gr.Button("重新开始 / Reset", scale=1)
            live_badge = gr.HTML(elem_id="live-badge")
            live_plot = gr.Plot(label="风险变化 / Risk over turns", elem_id="live-plot")
            live_transcript = gr.HTML()

        language.change(relabel, [language, result, session],
                        [header, input_hint, live_hint, selector, badge, transcript, explanation, live_badge,
                         live_transcript], api_name=False)
        example.change(load_example, example, text, api_name=False)
        upload.upload(load_file, [upload, text, language], [text, upload_message], api_name=False)
        run.click(analyze_click, [text, backend, language], [result, selector, badge, transcript, plot, explanation],
                  api_name=False)
        selector.input(choose_call, [result, selector, backend, language], [result, badge, transcript, plot,
                                                                              explanation], api_name=False)
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
