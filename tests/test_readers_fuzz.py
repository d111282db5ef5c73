"""Property: whatever bytes arrive, `analyze` ends in predictions (exit 0) or one line `error: ...` (exit 2).

Runs the CLI in-process (analyzer.cli.main) on random bytes, text in random encodings, random JSON shapes, chat
and CSV transcripts; derandomized, so that every run tries the same inputs.
"""
import contextlib
import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings, strategies as st

from analyzer.cli import main
from analyzer.readers import FORMATS

KEYS = st.sampled_from(["id", "turns", "speaker", "text", "tactics", "label", "scam_type", "source", "meta", "left",
                        "right", "tts_id", "fraud_type", "timestamp", "turn_fields", "0", "", "time"])
PIECES = st.sampled_from(["", " ", "\t", "客服", "小美 10:21", "验证码", "：", ":", "\n", "\r\n", "\ufeff", "\ud800",
                          "\udfff", "\x00", "\x1c", "\u2028", "scam", "benign", "impersonation", "诈" * 300])
TEXT = st.one_of(st.text(max_size=30), st.lists(PIECES, max_size=6).map("".join))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | TEXT, inner,
                                                                                         max_size=5), max_leaves=15)
TACTICS = st.lists(st.sampled_from(["lure", "pretext", "flattery"]), max_size=2)
TURN = st.fixed_dictionaries({"speaker": st.one_of(TEXT, TEXT, JSON), "text": st.one_of(TEXT, TEXT, TEXT, JSON)},
                             optional={"tactics": TACTICS | JSON, "timestamp": JSON, "meta": JSON})
TURNS = st.lists(TURN, max_size=4)
DIALOGUE = st.fixed_dictionaries({"turns": st.one_of(TURNS, TURNS, JSON)},  # one_of(a, a, b): a twice as often
                                 optional={"id": TEXT | JSON, "meta": JSON, "channel": JSON,
                                           "label": st.sampled_from(["scam", "benign", "maybe"]) | JSON,
                                           "left": st.lists(TEXT, max_size=3) | JSON,
                                           "right": st.lists(TEXT, max_size=3)})
TAF = st.fixed_dictionaries({"left": st.lists(TEXT, max_size=3), "right": st.lists(TEXT, max_size=3)},
                            optional={"tts_id": TEXT | JSON,
                                      "fraud_type": st.sampled_from(["客服诈骗", "订餐服务", "x"])})
LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "gbk"])


@st.composite
def json_document(draw) -> str:
    objs = draw(st.lists(st.one_of(DIALOGUE, DIALOGUE, TAF, JSON), min_size=1, max_size=3))
    ascii_only = draw(st.booleans())
    if draw(st.booleans()):
        return json.dumps(objs, ensure_ascii=ascii_only, indent=draw(st.sampled_from([None, 2])))
    return draw(LINE_ENDS).join(json.dumps(o, ensure_ascii=ascii_only) for o in objs) + "\n"


@st.composite
def chat_document(draw) -> str:
    line = st.one_of(TEXT, st.sampled_from(["客服：您好", "A: hi", "小美 10:21", "小明 2024/5/1 10:21:05",
                                            "小美 10:21: 你好", "10:30 在门口", "2024-05-01 10:21", "验证码：123456",
                                            "", " ", "今天天气不错"]))
    return draw(LINE_ENDS).join(draw(st.lists(line, min_size=1, max_size=8)))


@st.composite
def csv_document(draw) -> str:
    header = draw(st.sampled_from([["case", "speaker", "content"], ["case", "speaker", "content", "tactics", "label"],
                                   ["id", "角色", "内容", "time"], ["case", "speaker"]]))
    rows = draw(st.lists(st.lists(TEXT | st.sampled_from(["c1", "c2", "lure", "scam"]), min_size=0, max_size=6),
                         max_size=5))
    delimiter = draw(st.sampled_from([",", "\t", ";"]))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=draw(LINE_ENDS)).writerows([header, *rows])
    return out.getvalue()


@st.composite
def plausible_document(draw) -> str:
    """Mostly well-formed transcripts, so that the way to predictions is walked too."""
    words = st.text(alphabet="客服您好把验证码告诉我转账安全账户 ab\t", max_size=12)
    turns = st.lists(st.fixed_dictionaries({"speaker": st.sampled_from(["客服", "用户", "A"]), "text": words},
                                           optional={"time": words}), min_size=1, max_size=5)
    dialogues = draw(st.lists(turns, min_size=1, max_size=3))
    if draw(st.booleans()):
        return "".join(json.dumps({"id": f"d{i}", "turns": t}, ensure_ascii=False) + "\n" for i, t in enumerate(dialogues))
    return "\n\n".join("\n".join(f"{turn['speaker']}：{turn['text']}" for turn in t) for t in dialogues)


@st.composite
def input_bytes(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=400))
    text = draw(st.one_of(json_document(), chat_document(), csv_document(), TEXT, plausible_document(),
                          plausible_document()))
    encoding = draw(ENCODINGS)
    surrogates = encoding.startswith("utf") and draw(st.booleans())  # lone surrogates as (invalid) bytes
    return text.encode(encoding, errors="surrogatepass" if surrogates else "replace")


OPTIONS = st.tuples(st.sampled_from([None] * 5 + list(FORMATS)),
                    st.sampled_from([None] * 6 + ["gbk", "utf-16", "latin-1", "nope"]), st.booleans())


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=input_bytes(), options=OPTIONS)
def test_any_input_ends_in_predictions_or_one_error_line(data, options):
    fmt, encoding, skip_invalid = options
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "in.txt", Path(tmp) / "out.jsonl"
        path.write_bytes(data)
        args = ["analyze", str(path), "--model", "rules", "-o", str(out)]
        args += ["--format", fmt] if fmt else []
        args += ["--encoding", encoding] if encoding else []
        args += ["--skip-invalid"] if skip_invalid else []
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(args)  # an exception here is the failure this test looks for
        lines = stderr.getvalue().splitlines()
        event(f"exit {code}")  # pytest --hypothesis-show-statistics: how many inputs got through
        assert "Traceback" not in stderr.getvalue()
        if code == 0:
            predictions = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n")[:-1]]
            assert predictions and all("scam_probability" in p for p in predictions)
            assert not any(line.startswith("error:") for line in lines)
        else:
            assert code == 2, (code, lines)
            assert lines and lines[-1].startswith("error: "), lines
            assert sum(line.startswith("error:") for line in lines) == 1, lines
            assert not out.exists()
