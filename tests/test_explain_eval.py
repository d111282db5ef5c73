"""Explanation quality per backend (analyzer.chain.evaluate and the `explanation` kind of the evaluation suite)."""
import json

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from analyzer.api import Analyzer
from analyzer.chain.evaluate import explanation_metrics
from analyzer.evaluation.kinds import EXPLANATION_METRICS, KINDS, Context

SCAM = {"id": "s", "label": "scam", "turns": [
    {"speaker": "客服", "text": "您好，我是支付宝客服，您的借呗账户存在异常，不处理会影响征信。", "tactics": ["impersonation", "pretext", "threat"]},
    {"speaker": "用户", "text": "啊？那我该怎么办？", "tactics": []},
    {"speaker": "客服", "text": "请把验证码报给我，再把余额转到安全账户。", "tactics": ["sensitive_info", "transfer"]}]}
BENIGN = {"id": "b", "label": "benign", "turns": [
    {"speaker": "妈妈", "text": "晚上回来吃饭吗？", "tactics": []},
    {"speaker": "儿子", "text": "回来，七点到家。", "tactics": []},
    {"speaker": "妈妈", "text": "好，给你做红烧肉。", "tactics": []}]}
VALID = json.dumps({"verdict": "scam", "risk_level": "danger", "confidence": 0.9, "steps": [], "advice": ["挂断电话"]},
                   ensure_ascii=False)


def rows(n: int = 4) -> list[dict]:
    return [dict(SCAM if k % 2 == 0 else BENIGN, id=f"d{k}") for k in range(n)]


@pytest.fixture(scope="module")
def rules():
    return Analyzer.from_pretrained("rules")


def test_grounded_backend(monkeypatch, rules):
    monkeypatch.delenv("SCAM_ANALYZER_LLM", raising=False)
    gold = rows()
    out = explanation_metrics(gold, rules.analyze_many(gold), repeats=5, consistency_sample=2)
    assert out["backend"] == "none" and out["statuses"] == {"grounded": 4} and out["dialogues"] == 4
    assert out["cited_turn_validity"] == 1.0 and out["verbatim_quote_rate"] == 1.0
    assert out["step_tactic_precision"] > 0.5 and out["step_tactic_recall"] > 0.5
    # no LLM: nothing to validate, no fallbacks, no latency; the grounded explainer is deterministic
    assert out["validity_rate"] is None and out["fallback_rate"] is None and out["latency_ms_mean"] is None
    assert out["verdict_consistency"] == 1.0 and out["consistency_dialogues"] == 2 and out["consistency_repeats"] == 5


def test_llm_backend_validity_fallbacks_usage_consistency(rules):
    gold = rows()
    # answers in turn: valid; garbage twice (-> fallback); valid; garbage twice (-> fallback); ...
    llm = FakeListChatModel(responses=[VALID, "不知道", "不知道"])
    out = explanation_metrics(gold, rules.analyze_many(gold), llm=llm, repeats=5, consistency_sample=0)
    assert out["statuses"] == {"ok": 2, "fallback": 2}
    assert out["validity_rate"] == 0.5 and out["first_answer_validity_rate"] == 0.5 and out["fallback_rate"] == 0.5
    assert out["fallback_causes"] == {"garbage answer": 2}
    assert out["latency_ms_mean"] is not None and out["input_tokens_mean"] > 0 and out["output_tokens_mean"] > 0
    assert out["attempts_mean"] == 1.5 and out["added_steps"] == 0 and out["added_step_precision"] is None
    # the same input five times: a model at temperature 0 gives the same verdict every time
    same = explanation_metrics(gold[:2], rules.analyze_many(gold[:2]), llm=FakeListChatModel(responses=[VALID]),
                               repeats=5, consistency_sample=2)
    assert same["verdict_consistency"] == 1.0 and same["llm_verdict_consistency"] == 1.0
    BENIGN_ANSWER = VALID.replace('"scam"', '"benign"').replace('"danger"', '"safe"')
    flaky = FakeListChatModel(responses=[VALID, BENIGN_ANSWER, VALID])
    out = explanation_metrics(gold[:1], rules.analyze_many(gold[:1]), llm=flaky, repeats=5, consistency_sample=1)
    assert out["llm_verdict_consistency"] == 0.0


def test_added_steps_are_scored(rules):
    gold = rows(1)
    added = json.loads(VALID)
    added["steps"] = [{"turns": [1], "tactic": "urgency", "quote": "那我该怎么办", "reasoning": "受害人被吓到"}]
    out = explanation_metrics(gold, rules.analyze_many(gold), llm=FakeListChatModel(
        responses=[json.dumps(added, ensure_ascii=False)]), consistency_sample=0)
    assert out["statuses"] == {"ok": 1} and out["added_steps"] == 1 and out["added_step_precision"] == 0.0


def test_the_kind_declares_the_metrics(monkeypatch, rules):
    monkeypatch.delenv("SCAM_ANALYZER_LLM", raising=False)
    monkeypatch.setenv("SCAM_ANALYZER_EVAL_CONSISTENCY", "1")
    kind = KINDS["explanation"]
    gold = rows(2)
    out = kind.run(None, gold, rules.analyze_many(gold), Context())
    assert set(EXPLANATION_METRICS) <= set(out) and out["consistency_dialogues"] == 1
