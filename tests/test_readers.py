import json

import pytest

from analyzer.readers import InputError, read_dialogues, sniff_format
from tests.conftest import jsonl


def test_jsonl(write, dialogue_dict):
    dialogues, errors = read_dialogues(write("a.jsonl", jsonl(dialogue_dict, {**dialogue_dict, "id": "d2"})))
    assert [d.id for d in dialogues] == ["d1", "d2"] and errors == []
    assert dialogues[0].turns[2].tactics == ["sensitive_info", "lure"]


def test_json_array(write, dialogue_dict):
    path = write("a.json", json.dumps([dialogue_dict], ensure_ascii=False, indent=2))
    assert sniff_format(path.read_text()) == "json"
    dialogues, _ = read_dialogues(path)
    assert dialogues[0].label == "scam"


def test_plain_text_full_and_ascii_colons_continuation_and_blank_line(write):
    text = "客服：您好，这里是顺丰\n快递的理赔专员\n用户: 哦，啥事\n\nA: hello\nB：你好\n"
    dialogues, _ = read_dialogues(write("t.txt", text))
    assert len(dialogues) == 2
    first = dialogues[0]
    assert [t.speaker for t in first.turns] == ["客服", "用户"]
    assert first.turns[0].text == "您好，这里是顺丰 快递的理赔专员"
    assert [t.speaker for t in dialogues[1].turns] == ["A", "B"]


def test_text_time_is_not_a_speaker(write):
    dialogues, _ = read_dialogues(write("t.txt", "A：明天见\n10:30 在门口\n"))
    assert len(dialogues[0].turns) == 1 and "10:30" in dialogues[0].turns[0].text


def test_csv(write):
    csv_text = "case,speaker,content\nc1,客服,您好\nc1,用户,你好\nc2,A,在吗\n"
    dialogues, _ = read_dialogues(write("t.csv", csv_text))
    assert [(d.id, len(d.turns)) for d in dialogues] == [("c1", 2), ("c2", 1)]


def test_teleantifraud(write):
    obj = {"tts_id": "tts_fraud_1", "left": ["您好我是客服", "请转账"], "right": ["嗯"], "fraud_type": "客服诈骗"}
    path = write("taf.jsonl", jsonl(obj))
    dialogues, _ = read_dialogues(path)
    d = dialogues[0]
    assert [t.speaker for t in d.turns] == ["来电", "接听", "来电"]
    assert d.label == "scam" and d.scam_type == "ecommerce_refund" and d.source == "teleantifraud"


def test_format_override(write):
    path = write("x.txt", '{"id": "z", "turns": [{"speaker": "A", "text": "hi"}]}\n')
    assert read_dialogues(path, fmt="text")[0][0].turns[0].speaker == '{"id"'


@pytest.mark.parametrize("name,content,fragment", [
    ("empty.jsonl", "", "empty file"),
    ("blank.jsonl", "  \n\n", "empty file"),
    ("bad.jsonl", '{"id": "a", "turns": [{"speaker": "A", "text": "x"}]}\n{oops\n', "bad.jsonl:2: invalid JSON"),
    ("noturns.jsonl", '{"id": "a", "turns": []}\n', "has no turns"),
    ("missing.jsonl", '{"id": "a"}\n', "has no 'turns' field"),
    ("notext.jsonl", '{"id": "a", "turns": [{"speaker": "A"}]}\n', "turns.0.text: Field required"),
    ("emptytext.jsonl", '{"id": "a", "turns": [{"speaker": "A", "text": "  "}]}\n', "turn 0 has empty text"),
    ("types.jsonl", '{"id": "a", "turns": [{"speaker": "A", "text": 5}]}\n', "turns.0.text"),
    ("tactic.jsonl", '{"id": "a", "turns": [{"speaker": "A", "text": "x", "tactics": ["flattery"]}]}\n',
     "unknown tactic id(s) flattery"),
    ("label.jsonl", '{"id": "a", "label": "maybe", "turns": [{"speaker": "A", "text": "x"}]}\n', "label"),
])
def test_bad_input_messages(write, name, content, fragment):
    with pytest.raises(InputError) as err:
        read_dialogues(write(name, content))
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_huge_turn(write):
    big = "诈" * (5 * 1024 * 1024 // 3)
    with pytest.raises(InputError, match="over the limit"):
        read_dialogues(write("big.jsonl", jsonl({"id": "a", "turns": [{"speaker": "A", "text": big}]})))


def test_binary_junk(write):
    with pytest.raises(InputError, match="binary"):
        read_dialogues(write("junk.bin", bytes(range(256)) * 40))


def test_gbk_detected_and_decoded_with_flag(write):
    path = write("gbk.txt", "客服：您好，我是银行的\n用户：你好\n".encode("gbk"))
    with pytest.raises(InputError, match="GBK"):
        read_dialogues(path)
    dialogues, _ = read_dialogues(path, encoding="gbk")
    assert dialogues[0].turns[0].speaker == "客服"


def test_skip_invalid_keeps_valid(write, dialogue_dict):
    path = write("mixed.jsonl", jsonl(dialogue_dict) + "{broken\n" + jsonl({**dialogue_dict, "id": "d3"}))
    dialogues, errors = read_dialogues(path, skip_invalid=True)
    assert [d.id for d in dialogues] == ["d1", "d3"]
    assert len(errors) == 1 and "mixed.jsonl:2" in errors[0]


def test_utf8_bom(write, dialogue_dict):
    dialogues, _ = read_dialogues(write("bom.jsonl", "\ufeff" + jsonl(dialogue_dict)))
    assert dialogues[0].id == "d1"
