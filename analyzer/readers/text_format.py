"""Plain-text transcripts: one turn per line as `说话人：内容` or `A: text`.

A line without a speaker continues the previous turn; a blank line separates dialogues.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from analyzer.readers.base import Record, Source, to_record

SPEAKER_LINE = re.compile(r"^\s*([^:：\s][^:：]{0,23}?)\s*[:：]\s*(.*)$")


def parse_line(line: str) -> tuple[str, str] | None:
    match = SPEAKER_LINE.match(line)
    if not match or re.fullmatch(r"[\d\s]+", match.group(1)):  # "10:30" is a time, not a speaker
        return None
    return match.group(1).strip(), match.group(2).strip()


def read_text(source: Source) -> Iterator[Record]:
    stem = Path(source.name).stem if source.name != "<stdin>" else "stdin"
    turns: list[dict] = []
    start_line = 1
    count = 0

    def flush():
        nonlocal count
        count += 1
        return to_record({"id": f"{stem}-{count}", "turns": turns}, f"{source.name}:{start_line}", f"{stem}-{count}")

    for number, line in enumerate(source.lines(), start=1):
        if not line.strip():
            if turns:
                yield flush()
                turns = []
            continue
        if not turns:
            start_line = number
        parsed = parse_line(line)
        if parsed:
            turns.append({"speaker": parsed[0], "text": parsed[1]})
        elif turns:
            turns[-1]["text"] = (turns[-1]["text"] + " " + line.strip()).strip()
        else:
            turns.append({"speaker": "未知", "text": line.strip()})
    if turns:
        yield flush()
