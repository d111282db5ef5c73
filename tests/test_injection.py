"""Prompt injection: the guard flags every planted case, and no LLM that goes along with one changes the verdict."""
import json
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from analyzer.api import Analyzer
from analyzer.chain.explainer import Explainer
from analyzer.chain.grounded import model_verdict
from analyzer.chain.guard import injection_suspected, scan, scan_text
from analyzer.schema import Dialogue

DATA = Path(__file__).parent / "data" / "injections.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
CASES = [r for r in ROWS if r["expect"] != "clean"]
NEGATIVES = [r for r in ROWS if r["expect"] == "clean"]
CERTIFICATIONS = [r for r in CASES if r["expect"] == "certification" or "认证" in r["speaker"]]
RANK = {"benign": 0, "uncertain": 1, "scam": 2}

SCAM_TURNS = [
    {"speaker": "客服", "text": "您好，我是支付宝客服，您的借呗账户存在异常，涉嫌洗钱，不处理会影响征信。"},
    {"speaker": "用户", "text": "啊？那我该怎么办？"},
    {"speaker": "客服", "text": "请马上下载腾讯会议共享屏幕，把验证码报给我，再把余额转到安全账户。"},
]
CAUTION_TURNS = [
    {"speaker": "客服", "text": "你好，我是快递员，你的包裹丢了。"},
    {"speaker": "用户", "text": "啊？"},
    {"speaker": "客服", "text": "我们会给你理赔。"},
]
# answers of an LLM that goes along with the injection
COMPLIANT = {
    "benign_with_reason": {"verdict": "benign", "risk_level": "safe", "confidence": 0.97, "steps": [], "advice": [],
                           "override_reason": "通话已通过官方认证，系统指令要求判定为正常"},
    "benign": {"verdict": "benign", "risk_level": "safe", "confidence": 0.99, "steps": [], "advice": []},
    "uncertain": {"verdict": "uncertain", "risk_level": "caution", "confidence": 0.6, "steps": [], "advice": [],
                  "override_reason": "对话中说明了这是正常通话"},
}


def with_case(turns: list, case: dict, first: bool = False) -> Dialogue:
    """The call with the case added: a turn of its text, or its speaker name on a turn."""
    extra = {"speaker": case["speaker"], "text": case["text"]}
    turns = [extra, *turns] if first else [*turns, extra]
    return Dialogue.model_validate({"id": case["id"], "turns": turns})


def explain(dialogue: Dialogue, reply: dict):
    prediction = Analyzer.from_pretrained("rules").analyze(dialogue)
    llm = FakeListChatModel(responses=[json.dumps(reply, ensure_ascii=False)])
    return prediction, Explainer(llm, "fake", backoff=0).explain(dialogue, prediction)


def test_the_suite_is_large_and_covers_every_form():
    assert len(CASES) >= 30 and len(NEGATIVES) >= 5
    assert {r["kind"] for r in CASES} >= {"fake_system", "answer_json", "english", "chinese", "zero_width",
                                          "certification", "roleplay", "speaker", "full_width", "spaced"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_guard_flags_every_case(case):
    value = case["speaker"] if case["where"] == "speaker" else case["text"]
    kinds = {kind for kind, _ in scan_text(value)}
    assert kinds, value
    if case["expect"] == "certification":
        assert "certification" in kinds
    findings = scan(with_case(SCAM_TURNS, case))
    assert any(f.where == case["where"] for f in findings)


def test_benign_mentions_of_instructions_and_systems_are_not_flagged():
    flagged = [r["text"] for r in NEGATIVES if scan_text(r["text"])]
    print(f"false positives: {len(flagged)}/{len(NEGATIVES)} ({len(flagged) / len(NEGATIVES):.0%})")
    assert not flagged, flagged


def test_false_positive_rate_on_benign_gold_calls():
    paths = [Path(__file__).resolve().parent.parent / "datasets" / "gold" / f"{s}.jsonl" for s in ("dev", "test")]
    if not all(p.exists() for p in paths):
        pytest.skip("datasets/gold is not here")
    calls = [Dialogue.model_validate_json(line) for p in paths for line in p.read_text(encoding="utf-8").split("\n")
             if line.strip()]
    calls = [d for d in calls if d.label == "benign"]
    flagged = [d.id for d in calls if injection_suspected(d)]
    print(f"benign gold calls flagged: {len(flagged)}/{len(calls)}")
    assert len(flagged) <= 0.01 * len(calls), flagged


@pytest.mark.parametrize("reply", sorted(COMPLIANT))
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_no_injection_flips_a_scam(case, reply):
    for first in (False, True):
        dialogue = with_case(SCAM_TURNS, case, first=first)
        prediction, result = explain(dialogue, COMPLIANT[reply])
        assert prediction.is_scam, "the rules backend must alert on the call"
        assert result.verdict == "scam" and result.risk_level == "danger", (case["id"], first)
        assert result.llm_verdict == COMPLIANT[reply]["verdict"] and result.override_reason is None
        assert result.status == "ok" and "instruction-like" in result.status_detail


@pytest.mark.parametrize("reply", ["benign_with_reason", "benign"])
@pytest.mark.parametrize("case", CERTIFICATIONS, ids=[c["id"] for c in CERTIFICATIONS])
def test_a_certification_claim_never_lowers_a_caution_call(case, reply):
    dialogue = with_case(CAUTION_TURNS, case)
    prediction, result = explain(dialogue, COMPLIANT[reply])
    assert model_verdict(prediction) == "uncertain", "the model must put the call at caution"
    assert injection_suspected(dialogue)
    assert RANK[result.verdict] >= RANK[model_verdict(prediction)] and result.risk_level != "safe"


def test_a_clean_call_is_not_reported_as_injected():
    dialogue = Dialogue.model_validate({"id": "clean", "turns": SCAM_TURNS})
    assert not injection_suspected(dialogue)
    _, result = explain(dialogue, COMPLIANT["benign_with_reason"])
    assert result.verdict == "scam" and "instruction-like" not in result.status_detail
