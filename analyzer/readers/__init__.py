"""Read transcripts in any supported format into typed dialogues.

`iter_records` sniffs the format from the content (or takes `fmt`), streams JSONL line by line, and yields one
`Record` per dialogue: either a valid `Dialogue` or a one-line error naming where and what, plus one-line notices
of what was fixed on the way (dropped empty turns). File-level problems (empty, binary, wrong encoding) raise
`InputError` at once.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

from analyzer.readers.base import InputError, Record, Source, one_line, open_source, source_from_bytes
from analyzer.readers import csv_format, json_format, teleantifraud, text_format

FORMATS = ("jsonl", "json", "text", "csv", "teleantifraud")
JSON_ARRAY = re.compile(r"\[\s*(?:[{[\]]|$)")  # an array of dialogue objects (or empty): not "[10:21] 小美：…"


def first_json_value(head: str, spans_lines: bool = False):
    """The first JSON value of the content, or None when it does not parse (invalid, or cut off by the head);
    with spans_lines, (value, whether it spans several lines)."""
    stripped = head.lstrip("\ufeff \t\r\n")
    try:
        value, end = json.JSONDecoder().raw_decode(stripped)
    except (ValueError, RecursionError):
        value, end = None, 0
    return (value, "\n" in stripped[:end]) if spans_lines else value


def json_kind(obj) -> str:
    """Decide between the JSON-lines formats by the keys of the first record, never by substrings:
    top-level "turns" is the project's format; "left"/"right" without "turns" is TeleAntiFraud."""
    if isinstance(obj, dict) and "turns" not in obj and ("left" in obj or "right" in obj):
        return "teleantifraud"
    return "jsonl"


def sniff_format(head: str) -> str:
    """Guess the format from the first characters of the decoded content."""
    stripped = head.lstrip("\ufeff \t\r\n")
    if JSON_ARRAY.match(stripped):
        return "json"
    if stripped.startswith("{"):
        value, pretty = first_json_value(stripped, spans_lines=True)
        return "json" if pretty else json_kind(value)  # one pretty-printed dialogue is JSON, not JSON lines
    lines = stripped.splitlines()
    if lines and csv_format.header_delimiter(lines[0].lower().replace(" ", "")):
        return "csv"
    return "text"


def sniff_source(source: Source) -> str:
    fmt = sniff_format(source.head)
    if fmt == "jsonl" and first_json_value(source.head) is None:  # a first record longer than the head: read it all
        first = next((line for line in source.lines() if line.strip()), "")
        fmt = json_kind(first_json_value(first))
    return fmt


def iter_records(path: str | Path, fmt: str | None = None, encoding: str | None = None,
                 source: Source | None = None) -> Iterator[Record]:
    try:
        source = source or open_source(path, encoding=encoding)
        fmt = fmt or sniff_source(source)
        if fmt not in FORMATS:
            raise InputError(f"{source.name}: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        reader = {"jsonl": json_format.read_jsonl, "json": json_format.read_json_array, "text": text_format.read_text,
                  "csv": csv_format.read_csv, "teleantifraud": teleantifraud.read_teleantifraud}[fmt]
        count = 0
        for record in reader(source):
            count += 1
            if record.error is not None:
                record.error = one_line(record.error)
            record.notices = [one_line(notice) for notice in record.notices]
            yield record
        if count == 0:
            raise InputError(f"{source.name}: no dialogues found (is it empty or only whitespace?)")
    except InputError as err:
        raise InputError(one_line(str(err))) from None


def read_text(text: str, fmt: str | None = None, name: str = "<input>", skip_invalid: bool = False):
    """Dialogues from a string (pasted text in the web demo or a request body); same checks as files."""
    return read_dialogues(name, fmt=fmt, skip_invalid=skip_invalid, source=source_from_bytes(text.encode("utf-8"), name))


def read_dialogues(path: str | Path, fmt: str | None = None, encoding: str | None = None, skip_invalid: bool = False,
                   source: Source | None = None):
    """All dialogues of a file; raises InputError on the first invalid one unless skip_invalid.

    Returns (dialogues, errors) where errors lists the messages of skipped dialogues.
    """
    dialogues, errors = [], []
    for record in iter_records(path, fmt=fmt, encoding=encoding, source=source):
        if record.error is None:
            dialogues.append(record.dialogue)
        elif skip_invalid:
            errors.append(record.error)
        else:
            raise InputError(record.error)
    return dialogues, errors


__all__ = ["FORMATS", "InputError", "Record", "Source", "iter_records", "read_dialogues", "read_text", "sniff_format",
           "sniff_source"]
