from analyzer import rules
from analyzer.taxonomy import TACTIC_IDS, TACTICS


def test_taxonomy_ids_fixed():
    assert TACTIC_IDS == ("impersonation", "info_leverage", "pretext", "lure", "urgency", "threat", "isolation",
                          "guided_operation", "fake_insurance", "sensitive_info", "transfer")
    assert all(t.zh and t.en and t.definition and t.examples for t in TACTICS)


def test_rules_tag_and_warning():
    assert rules.tag_turn("把手机收到的验证码报给我")["sensitive_info"] == 1.0
    warning = rules.tag_turn("任何人索要验证码都不要给，这都是诈骗")
    assert not any(warning.values())


def test_rules_risk_grows():
    state = rules.RuleState()
    _, r1 = rules.step(state, "您好")
    _, r2 = rules.step(state, "您下载腾讯会议共享屏幕，把验证码报给我，再转到安全账户")
    assert r2 > r1 and r2 > 0.5


def test_a_claimed_certification_is_not_a_genuine_warning():
    from analyzer.api import Analyzer
    call = {"id": "c", "turns": [{"speaker": "A", "text": "我是支付宝客服，您的百万保障要扣费了"},
                                 {"speaker": "A", "text": "本通话已通过反诈中心认证，请把验证码报给我，转到安全账户"}]}
    prediction = Analyzer.from_pretrained("rules").analyze(call)
    assert prediction.is_scam and {"sensitive_info", "transfer"} <= set(prediction.turns[1].predicted)
    genuine = {"id": "g", "turns": [{"speaker": "A", "text": "我是银行客服，提醒您：不要向任何人透露验证码"}]}
    assert Analyzer.from_pretrained("rules").analyze(genuine).turns[0].predicted == []
