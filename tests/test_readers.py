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
    ("emptytext.jsonl", '{"id": "a", "turns": [{"speaker": "A", "text": "  "}]}\n', "has no turn with text (1 empty)"),
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


# --- hardening: sniffing, empty turns, chat exports, unknown fields ---------------------------------------------

from analyzer.readers import iter_records, read_text  # noqa: E402
from analyzer.readers.base import HEAD_BYTES  # noqa: E402
from analyzer.schema import Dialogue  # noqa: E402


def test_excel_csv_with_crlf_and_bom_is_read_as_csv(write):
    data = "\ufeffcase,speaker,content\r\nc1,客服,您好\r\nc1,用户,\"你好\r\n请讲\"\r\nc2,A,在吗\r\n".encode("utf-8")
    path = write("excel.csv", data)
    assert sniff_format(data.decode("utf-8")) == "csv"
    dialogues, _ = read_dialogues(path)
    assert [(d.id, [t.speaker for t in d.turns]) for d in dialogues] == [("c1", ["客服", "用户"]), ("c2", ["A"])]
    assert dialogues[0].turns[1].text == "你好\n请讲"


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_csv_tab_and_semicolon_separated(write, delimiter):
    text = delimiter.join(["case", "speaker", "content"]) + "\r\n" + delimiter.join(["c1", "客服", "您好"]) + "\r\n"
    assert sniff_format(text) == "csv"
    assert read_dialogues(write("t.csv", text))[0][0].turns[0].text == "您好"


def test_excel_csv_through_the_cli_gives_one_prediction_per_call(run_cli, write):
    path = write("excel.csv", "\ufeffcase,speaker,content\r\nc1,客服,您好\r\nc2,A,在吗\r\n".encode("utf-8"))
    done = run_cli("analyze", path, "--model", "rules")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["c1", "c2"]


def test_jsonl_with_speakers_named_left_and_right_is_not_teleantifraud(write):
    obj = {"id": "lr", "turns": [{"speaker": "left", "text": "您好"}, {"speaker": "right", "text": "嗯"}]}
    path = write("lr.jsonl", jsonl(obj, obj))
    assert sniff_format(path.read_text()) == "jsonl"
    dialogues, _ = read_dialogues(path)
    assert [t.speaker for t in dialogues[0].turns] == ["left", "right"] and len(dialogues) == 2


@pytest.mark.parametrize("obj,fmt", [
    ({"tts_id": "t", "left": ["a"], "right": ["b"]}, "teleantifraud"),
    ({"right": ["b"], "left": ["a"], "note": '"turns"'}, "teleantifraud"),  # a substring is no key
    ({"id": "x", "turns": [{"speaker": "A", "text": '"left" "right"'}], "left": []}, "jsonl"),
    ({"id": "x"}, "jsonl"),
])
def test_sniff_decides_by_the_first_records_keys(obj, fmt):
    assert sniff_format(jsonl(obj)) == fmt


def test_sniff_reads_a_first_record_longer_than_the_head(write):
    obj = {"tts_id": "long", "left": ["诈" * 8000] * 5, "right": ["嗯" * 8000] * 5}
    path = write("long.jsonl", jsonl(obj))
    assert path.stat().st_size > HEAD_BYTES
    dialogues, _ = read_dialogues(path)
    assert dialogues[0].source == "teleantifraud" and len(dialogues[0].turns) == 10


def test_bracketed_chat_text_is_not_json():
    assert sniff_format("[10:21] 小美：你好\n") == "text"
    assert sniff_format('[\n  {"id": "a"}]') == "json" and sniff_format("[]") == "json"


def test_empty_asr_turns_are_dropped_with_a_notice_not_fatal(write):
    obj = {"id": "asr", "turns": [{"speaker": "A", "text": "喂"}, {"speaker": "B", "text": ""},
                                  {"speaker": "A", "text": " \t"}, {"speaker": "B", "text": "你好", "timestamp": 3.5}]}
    path = write("asr.jsonl", jsonl(obj))
    records = list(iter_records(path))
    assert records[0].error is None
    assert [t.text for t in records[0].dialogue.turns] == ["喂", "你好"]
    assert records[0].notices == [f"{path}:1: dialogue 'asr': dropped 2 empty turn(s)"]
    assert records[0].dialogue.meta["turn_fields"] == {1: {"timestamp": 3.5}}  # numbered as the kept turns
    dialogues, errors = read_dialogues(path, skip_invalid=True)
    assert [d.id for d in dialogues] == ["asr"] and errors == []


def test_empty_turns_in_teleantifraud_are_dropped(write):
    path = write("taf.jsonl", jsonl({"tts_id": "t", "left": ["您好", "请转账"], "right": [""]}))
    record = next(iter_records(path))
    assert [t.speaker for t in record.dialogue.turns] == ["来电", "来电"] and "dropped 1 empty" in record.notices[0]


def test_empty_turn_through_the_cli_is_analyzed(run_cli, write):
    path = write("asr.jsonl", jsonl({"id": "asr", "turns": [{"speaker": "A", "text": "把验证码告诉我"},
                                                            {"speaker": "B", "text": ""}]}))
    done = run_cli("analyze", path, "--model", "rules")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["turns"]) == 1


def test_empty_turn_notice_on_stderr(run_cli, write):
    path = write("asr.jsonl", jsonl({"id": "asr", "turns": [{"speaker": "A", "text": "喂"}, {"speaker": "B", "text": ""}]}))
    done = run_cli("analyze", path, "--model", "rules")
    assert done.returncode == 0 and "dropped 1 empty turn(s)" in done.stderr


@pytest.mark.parametrize("header,time", [("小美 10:21", "10:21"), ("小美 10:21:05", "10:21:05"),
                                         ("小美 2024-05-01 10:21", "2024-05-01 10:21"),
                                         ("小美 2024/5/1 10:21:05", "2024/5/1 10:21:05"),
                                         ("小美  下午 3:21", "下午 3:21")])
def test_chat_export_headers(write, header, time):
    text = f"{header}\n你好，我是客服\n验证码：123456\n小明 10:22\n好的\n"
    dialogues, _ = read_dialogues(write("chat.txt", text))
    d = dialogues[0]
    assert [(t.speaker, t.text) for t in d.turns] == [("小美", "你好，我是客服 验证码：123456"), ("小明", "好的")]
    assert d.meta["turn_fields"] == {0: {"time": time}, 1: {"time": "10:22"}}


def test_chat_export_one_line_messages_and_blank_lines(write):
    text = "小美 10:21: 你好\n\n小明 10:22：1000元\n\n\n小美 10:30\n在吗\n"
    dialogues, _ = read_dialogues(write("chat.txt", text))
    assert [[(t.speaker, t.text) for t in d.turns] for d in dialogues] == [[("小美", "你好"), ("小明", "1000元")],
                                                                           [("小美", "在吗")]]
    assert dialogues[0].meta["turn_fields"][1] == {"time": "10:22"}


def test_chat_header_without_message_is_an_empty_turn_dropped(write):
    record = next(iter_records(write("chat.txt", "小美 10:21\n小明 10:22\n好的\n")))
    assert [t.speaker for t in record.dialogue.turns] == ["小明"] and record.dialogue.meta["turn_fields"] == {
        0: {"time": "10:22"}}
    assert "dropped 1 empty turn(s)" in record.notices[0]


def test_text_without_speaker_labels_is_an_error(write):
    path = write("notes.txt", "今天天气不错\n我们去公园吧\n")
    with pytest.raises(InputError) as err:
        read_dialogues(path)
    assert str(err.value).startswith(f"{path}:1: no speaker labels found") and "--format" in str(err.value)


def test_text_without_speaker_labels_exit_2_one_line(run_cli, write):
    done = run_cli("analyze", write("notes.txt", "今天天气不错\n我们去公园吧\n"), "--model", "rules")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: ") and "no speaker labels found" in done.stderr


def test_unknown_fields_are_kept_in_meta(write):
    obj = {"id": "x", "channel": "phone", "meta": {"k": 1},
           "turns": [{"speaker": "A", "text": "喂", "timestamp": "00:01", "confidence": 0.9}, {"speaker": "B", "text": "嗯"}]}
    for path in (write("x.jsonl", jsonl(obj)), write("x.json", json.dumps([obj]))):
        d = read_dialogues(path)[0][0]
        assert d.meta == {"k": 1, "channel": "phone", "turn_fields": {0: {"timestamp": "00:01", "confidence": 0.9}}}
        again = read_dialogues(write("again.jsonl", jsonl(d.to_dict())))[0][0]  # what the project writes reads back
        assert again == d


def test_csv_extra_columns_are_kept_per_turn(write):
    text = "case,speaker,content,time\nc1,客服,您好,10:21\nc1,用户,你好,\n"
    d = read_dialogues(write("t.csv", text))[0][0]
    assert d.meta == {"turn_fields": {0: {"time": "10:21"}}}


def test_utf16_file_with_bom_is_read(write):
    path = write("u16.txt", "客服：您好\r\n用户：你好\r\n".encode("utf-16"))
    assert [t.text for t in read_dialogues(path)[0][0].turns] == ["您好", "你好"]
    with pytest.raises(InputError, match="UTF-16-encoded .* pass --encoding utf-16"):
        read_dialogues(path, encoding="gbk")


@pytest.mark.parametrize("content,fragment", [
    ('{"id": "a", "turns": [{"speaker": "A", "text": "\\ud800"}]}\n', "lone surrogate"),
    ("[" * 100_000 + "\n", "invalid JSON"),
    ('{"a": ' * 100_000 + "\n", "invalid JSON"),
    ('{"id": "a\\nb", "turns": []}\n', "has no turns"),
])
def test_odd_json_is_a_one_line_error(write, content, fragment):
    with pytest.raises(InputError) as err:
        read_dialogues(write("odd.jsonl", content))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_one_pretty_printed_dialogue_is_json(write, dialogue_dict):
    path = write("one.json", json.dumps(dialogue_dict, ensure_ascii=False, indent=2))
    assert sniff_format(path.read_text()) == "json"
    assert read_dialogues(path)[0][0].id == "d1"


def test_bare_cr_line_ends(write):
    dialogues, _ = read_dialogues(write("mac.txt", "客服：您好\r用户：你好\r".encode("utf-8")))
    assert [t.speaker for t in dialogues[0].turns] == ["客服", "用户"]


def test_time_in_a_colon_transcript_is_not_a_chat_header(write):
    text = "客服：您什么时候方便\n用户：明天上午\n那就 10:30\n客服：好的\n用户 10:31: 行\n"
    d = read_dialogues(write("t.txt", text))[0][0]
    assert [(t.speaker, t.text) for t in d.turns] == [("客服", "您什么时候方便"), ("用户", "明天上午 那就 10:30"),
                                                      ("客服", "好的"), ("用户", "行")]
    assert d.meta["turn_fields"] == {3: {"time": "10:31"}}
