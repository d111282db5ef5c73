"""The one verdict rule: running risk never falls, is_scam iff alert, levels follow the numbers, harm is never safe,
too little to judge is said so, every alert names its evidence; batch and live agree."""
import pytest

from analyzer.api import Analyzer
from analyzer.decision import Decision, RunningVerdict, run_verdict
from analyzer.taxonomy import TACTIC_IDS

ZERO = {t: 0.0 for t in TACTIC_IDS}
FITTED = Decision(verdict_bias=-4.0, verdict_weights={"max:impersonation": 2.0, "harm_and_manipulation": 6.0,
                                                      "max:sensitive_info": 2.0}, alert_threshold=0.6)


def test_running_risk_never_falls_when_the_victim_speaks():
    rows = [{**ZERO, "impersonation": 0.9}, {**ZERO, "sensitive_info": 0.95}, ZERO, ZERO]
    verdict, running = run_verdict(FITTED, rows, [0.2, 0.9, 0.1, 0.05])
    assert running == sorted(running) and running[-1] == verdict.risk
    assert verdict.alert_turn == 1 and verdict.is_scam and verdict.risk_level == "danger"
    assert verdict.alert_evidence == [{"turn": 0, "tactics": ["impersonation"]},
                                      {"turn": 1, "tactics": ["sensitive_info"]}]


def test_a_code_request_is_never_safe_even_with_a_low_learned_risk():
    verdict, _ = run_verdict(Decision(), [ZERO, {**ZERO, "sensitive_info": 0.8}, ZERO], [0.01, 0.01, 0.01])
    assert not verdict.is_scam and verdict.risk_level == "caution" and verdict.risk >= Decision().caution


@pytest.mark.parametrize("texts", [["你好"], ["您好，您的外卖到了"]])
def test_a_greeting_is_not_enough_to_judge(texts):
    verdict, _ = run_verdict(Decision(), [ZERO] * len(texts), [0.99] * len(texts))
    assert verdict.risk_level == "caution"  # a high context risk alone cannot alert: no tactic found
    verdict, _ = run_verdict(Decision(), [ZERO] * len(texts), [0.1] * len(texts))
    assert verdict.risk_level == "insufficient" and not verdict.is_scam


def test_no_alert_without_a_tactic():
    verdict, _ = run_verdict(Decision(), [ZERO] * 5, [0.99] * 5)
    assert verdict.alert_turn is None and not verdict.is_scam


def test_is_scam_holds_exactly_when_the_alert_fires():
    for risk in (0.1, 0.55, 0.7, 0.99):
        verdict, _ = run_verdict(FITTED, [{**ZERO, "impersonation": risk}] * 3, [0.5] * 3)
        assert verdict.is_scam == (verdict.alert_turn is not None) == (verdict.risk_level == "danger")


def test_decision_round_trips_and_ignores_old_fields():
    data = {**FITTED.to_dict(), "scam_threshold": 0.7, "danger": 0.6}
    assert Decision.from_dict(data) == FITTED


def test_live_and_batch_give_the_same_verdict():
    analyzer = Analyzer.from_pretrained("rules")
    call = {"id": "c", "turns": [{"speaker": "A", "text": "喂"}, {"speaker": "B", "text": "我是支付宝客服，您的百万保障要扣费"},
                                 {"speaker": "A", "text": "啊"}, {"speaker": "B", "text": "把验证码报给我，马上处理"},
                                 {"speaker": "A", "text": "好的"}]}
    batch = analyzer.analyze(call)
    session = analyzer.live()
    updates = [session.add_turn(t["speaker"], t["text"]) for t in call["turns"]]
    assert [u.risk for u in updates] == [t.risk for t in batch.turns]
    assert updates[-1].alert_turn == batch.alert_turn and updates[-1].risk_level == batch.risk_level
    assert batch.is_scam == (batch.alert_turn is not None)
    assert [t.risk for t in batch.turns] == sorted(t.risk for t in batch.turns)


def test_rules_verdict_on_a_greeting():
    prediction = Analyzer.from_pretrained("rules").analyze({"id": "g", "turns": [{"speaker": "A", "text": "你好"}]})
    assert prediction.risk_level == "insufficient" and not prediction.is_scam


def test_running_verdict_counts_turns():
    verdict = RunningVerdict(Decision())
    for _ in range(3):
        verdict.update(ZERO, 0.0)
    assert verdict.turns == 3 and verdict.risk_level == "safe"


def test_runnable_faces_and_async_twins():
    import asyncio
    pytest.importorskip("langchain_core")
    analyzer = Analyzer.from_pretrained("rules")
    call = {"id": "r", "turns": [{"speaker": "A", "text": "我是支付宝客服"}, {"speaker": "A", "text": "把验证码报给我"}]}
    plain = analyzer.analyze(call)
    assert analyzer.invoke(call) == plain and analyzer.batch([call, call]) == [plain, plain]
    assert asyncio.run(analyzer.aanalyze(call)) == plain
    assert asyncio.run(analyzer.aanalyze_many([call])) == [plain]
    runnable = analyzer.as_runnable()
    assert runnable.invoke(call) == plain and asyncio.run(runnable.ainvoke(call)) == plain
    updates = list(analyzer.as_live_runnable().stream(call))
    assert [u.index for u in updates] == [0, 1] and updates[-1].risk == plain.turns[-1].risk
