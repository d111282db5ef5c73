"""Plain-text transcripts: one turn per line as `说话人：内容` or `A: text`, or chat exports.

A line without a speaker continues the previous turn; a blank line separates dialogues. Chat exports put a
header `小美 10:21` (also `小美 10:21:05`, `小美 2024-05-01 10:21`, `小美 2024/5/1 10:21:05`) above the message
lines, or `小美 10:21: 你好` on one line; the time goes to meta["turn_fields"][turn index]["time"]. The first label
of a dialogue sets its style: in a chat export every line but a header is message text (`验证码：123456` is no
speaker) and one blank line between messages does not end the dialogue (two do); in a `说话人：内容` transcript a
line like `那就 10:30` is text, not a header. A block without any speaker label is an error, not a turn by nobody.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from analyzer.readers.base import Record, Source, to_record

SPEAKER_LINE = re.compile(r"^\s*([^:：\s][^:：]{0,23}?)\s*([:：])\s*(.*)$")
TIME = (r"(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s*)?(?:(?:凌晨|早上|上午|中午|下午|晚上)\s*)?"
        r"\d{1,2}:\d{2}(?::\d{2})?")
CHAT_HEADER = re.compile(rf"^\s*([^:：\s][^:：]{{0,23}}?)\s+({TIME})\s*(?:(?::(?!\d)|：)\s*(.*))?$")
NOT_A_SPEAKER = re.compile(r"[\d\s\-/.:年月日]+")  # a number, a date or a time
NO_LABELS = ("no speaker labels found (expected lines like '客服：内容' or a chat header '小美 10:21'); "
             "if it is another format, pass --format")


def parse_header(line: str) -> tuple[str, str, str] | None:
    """(speaker, time, text) of a chat-export header line, else None."""
    match = CHAT_HEADER.match(line)
    if not match or NOT_A_SPEAKER.fullmatch(match.group(1)):
        return None
    return match.group(1).strip(), " ".join(match.group(2).split()), (match.group(3) or "").strip()


def parse_line(line: str) -> tuple[str, str] | None:
    match = SPEAKER_LINE.match(line)
    if not match or NOT_A_SPEAKER.fullmatch(match.group(1)):  # "10:30" is a time, not a speaker
        return None
    speaker, colon, text = match.groups()
    if colon == ":" and re.search(r"\s\d{1,2}$", speaker) and re.match(r"\d{2}(?!\d)", text):
        return None  # "小美 10:21:05 你好": the colon is the time's
    return speaker.strip(), text.strip()


def read_text(source: Source) -> Iterator[Record]:
    stem = Path(source.name).stem if source.name != "<stdin>" else "stdin"
    turns: list[dict] = []
    start_line = 1
    count = 0
    style = None  # how the block labels speakers: "chat" (headers) or "colon" (`说话人：内容`); None: not yet
    blanks = 0

    def flush():
        nonlocal count
        count += 1
        where = f"{source.name}:{start_line}"
        if style is None:
            return Record(where, error=f"{where}: {NO_LABELS}")
        return to_record({"id": f"{stem}-{count}", "turns": turns}, where, f"{stem}-{count}")

    for number, line in enumerate(source.lines(), start=1):
        if not line.strip():
            blanks += 1
            continue
        if turns and blanks and (blanks > 1 or style != "chat"):
            yield flush()
            turns, style = [], None
        blanks = 0
        if not turns:
            start_line = number
        header = parse_header(line)
        if header and style == "colon" and not header[2]:  # only the one-line form `小美 10:21: 你好` counts here
            header = None
        parsed = parse_line(line) if style != "chat" and not header else None
        if header:
            turns.append({"speaker": header[0], "text": header[2], "time": header[1]})
            style = style or "chat"
        elif parsed:
            turns.append({"speaker": parsed[0], "text": parsed[1]})
            style = "colon"
        elif turns:
            turns[-1]["text"] = (turns[-1]["text"] + " " + line.strip()).strip()
        else:
            turns.append({"speaker": "未知", "text": line.strip()})
    if turns:
        yield flush()
