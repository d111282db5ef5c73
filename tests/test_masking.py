"""Masking personal data before text reaches a remote LLM: the planted-item set, tactic words, stability, jieba."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.chain import masking
from analyzer.chain.masking import Masker, find_names, speaker_names
from analyzer.schema import Dialogue

ITEMS = [json.loads(line) for line in
         (Path(__file__).parent / "data" / "masking_items.jsonl").read_text(encoding="utf-8").splitlines() if line]
PLANTED = [item for item in ITEMS if item["mask"]]
KEEP = [item for item in ITEMS if item["kind"] == "keep"]
REPO = Path(__file__).resolve().parent.parent


def masked(item: dict) -> tuple[Masker, str]:
    masker = Masker()
    masker.learn_names(item.get("speakers", []), [item["text"]])
    return masker, masker.mask(item["text"])


def test_the_set_is_large_and_varied():
    assert len(PLANTED) >= 200
    assert {i["kind"] for i in PLANTED} >= {"name", "speaker_name", "address", "code", "phone", "id_card", "email",
                                             "account", "badge", "plate", "mixed"}
    assert len({w for i in KEEP for w in i["keep"]}) >= 40


def test_at_least_98_percent_of_planted_items_are_masked():
    leaks = []
    for item in PLANTED:
        _, out = masked(item)
        left = [s for s in item["mask"] if s in out]
        if left:
            leaks.append(f"{item['id']}: {left} in {out}")
    rate = 1 - len(leaks) / len(PLANTED)
    print(f"masked {len(PLANTED) - len(leaks)}/{len(PLANTED)} planted items ({rate:.1%})")
    assert rate >= 0.98, "\n".join(leaks)


def test_no_false_masks_of_tactic_words():
    """Sentences with tactic words and no personal data come through unchanged; mixed items keep their words."""
    false = []
    for item in ITEMS:
        _, out = masked(item)
        lost = [w for w in item.get("keep", []) if w not in out]
        if lost or (item["kind"] == "keep" and out != item["text"]):
            false.append(f"{item['id']}: {item['text']} -> {out}")
    print(f"false masks: {len(false)} of {len(KEEP)} tactic-word sentences")
    assert not false, "\n".join(false)


def test_every_item_is_restored_exactly():
    for item in ITEMS:
        masker, out = masked(item)
        assert masker.unmask(out) == item["text"], item["id"]


def test_the_twelve_leaks_of_the_issue():
    dialogue = Dialogue.model_validate({"id": "leaks", "turns": [
        {"speaker": "陈建国", "text": "张伟你好，我是陈建国警官，王小明和欧阳娜娜的案子牵涉到你。"},
        {"speaker": "用户", "text": "我住幸福小区3栋2单元501，验证码是4 8 2 9 1 3，不对，是四八二九一三。"},
        {"speaker": "陈建国", "text": "还有771203。我的电话幺三八一二三四五六七八，邮箱chenjg@126.com。"},
        {"speaker": "陈建国", "text": "加我微信wxid_8k2j3h4g5f，我的警号是038275。"}]})
    secrets = ["张伟", "王小明", "欧阳娜娜", "陈建国", "幸福小区3栋2单元501", "4 8 2 9 1 3", "四八二九一三", "771203",
               "幺三八一二三四五六七八", "chenjg@126.com", "wxid_8k2j3h4g5f", "038275"]
    masker = Masker()
    masker.learn_names([t.speaker for t in dialogue.turns], [t.text for t in dialogue.turns])
    sent = "\n".join(f"{masker.mask(t.speaker)}：{masker.mask(t.text)}" for t in dialogue.turns)
    assert not [s for s in secrets if s in sent], sent
    assert "验证码" in sent and "警号" in sent and "微信" in sent and "警官" in sent


def test_placeholders_are_stable_within_a_dialogue():
    masker = Masker()
    masker.learn_names(["王秀英", "客服"], [])
    a = masker.mask("王秀英，验证码482913，电话13812345678")
    b = masker.mask("再说一遍：482913，王秀英，13812345678，另一个号13900001111")
    assert a == "[NAME_1]，验证码[CODE_1]，电话[PHONE_1]"
    assert b == "再说一遍：[CODE_1]，[NAME_1]，[PHONE_1]，另一个号[PHONE_2]"
    assert masker.unmask(b) == "再说一遍：482913，王秀英，13812345678，另一个号13900001111"


@pytest.mark.parametrize("text", ["转账50000元到对方账户", "2024年5月17日下午", "请拨打96110咨询", "工商银行客服95588",
                                  "一共3800，返佣金1140", "三三两两地走了"])
def test_amounts_dates_and_service_numbers_stay(text):
    assert Masker().mask(text) == text


def test_speaker_labels():
    assert speaker_names("王秀英") == ["王秀英"]
    assert speaker_names("郭靖") == ["郭靖"]
    assert speaker_names("群主小雅") == ["小雅"]
    assert speaker_names("Lily") == ["Lily"]
    for role in ("客服", "顾问", "营业员", "张警官", "来电", "left", "HR", "A", "说话人1", "京东客服"):
        assert speaker_names(role) == [], role


def test_ordinary_words_are_not_names():
    text = "谢谢您，我这张卡刚好不能用，周一高兴地去宁波银行查清楚，顺便付一下定金。"
    assert find_names(text) == frozenset()


def test_names_without_jieba(monkeypatch):
    monkeypatch.setitem(masking._JIEBA, "pos", None)
    find_names.cache_clear()
    try:
        assert "张伟" in find_names("张伟你好，我是客服。")
        assert Masker().mask("欧阳娜娜女士，验证码四八二九一三") == "[NAME_1]女士，验证码[CODE_1]"
    finally:
        find_names.cache_clear()


def test_jieba_is_loaded_lazily_and_quietly():
    code = ("import sys; import analyzer.chain.masking as m; assert 'jieba' not in sys.modules; "
            "print(m.Masker().mask('张伟你好')); assert 'jieba' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[NAME_1]你好"
    assert "prefix dict" not in done.stderr and "Loading model" not in done.stderr, done.stderr


def test_nothing_personal_reaches_the_llm():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from analyzer.api import Analyzer
    from analyzer.chain.explainer import Explainer

    class Recording(FakeListChatModel):
        seen: list = []

        def _call(self, messages, stop=None, run_manager=None, **kwargs):
            self.seen.append("\n".join(str(m.content) for m in messages))
            return super()._call(messages, stop, run_manager, **kwargs)

    items = [i for i in PLANTED if i["kind"] in ("mixed", "speaker_name")]
    turns = [{"speaker": (i.get("speakers") or ["客服"])[0], "text": i["text"]} for i in items]
    dialogue = Dialogue.model_validate({"id": "pii", "turns": turns})
    prediction = Analyzer.from_pretrained("rules").analyze(dialogue)
    llm = Recording(responses=[json.dumps({"verdict": "scam", "risk_level": "danger", "confidence": 0.9,
                                           "steps": [], "advice": []})])
    Explainer(llm, "fake", backoff=0).explain(dialogue, prediction)
    sent = "\n".join(llm.seen)
    leaked = [s for i in items for s in i["mask"] if s in sent]
    assert sent and not leaked, leaked
