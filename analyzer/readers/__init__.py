"""Read transcripts in any supported format into typed dialogues.

`iter_records` sniffs the format from the content (or takes `fmt`), streams JSONL line by line, and yields one
`Record` per dialogue: either a valid `Dialogue` or a one-line error naming where and what. File-level problems
(empty, binary, wrong encoding) raise `InputError` at once.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from analyzer.readers.base import InputError, Record, Source, open_source, source_from_bytes
from analyzer.readers import csv_format, json_format, teleantifraud, text_format

FORMATS = ("jsonl", "json", "text", "csv", "teleantifraud")


def sniff_format(head: str) -> str:
    """Guess the format from the first characters of the decoded content."""
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        first = stripped.split("\n", 1)[0]
        if '"left"' in first and '"right"' in first:
            return "teleantifraud"
        return "jsonl"
    first_line = stripped.split("\n", 1)[0].lower().replace(" ", "")
    if csv_format.looks_like_header(first_line):
        return "csv"
    return "text"


def iter_records(path: str | Path, fmt: str | None = None, encoding: str | None = None,
                 source: Source | None = None) -> Iterator[Record]:
    source = source or open_source(path, encoding=encoding)
    fmt = fmt or sniff_format(source.head)
    if fmt not in FORMATS:
        raise InputError(f"{source.name}: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    reader = {"jsonl": json_format.read_jsonl, "json": json_format.read_json_array, "text": text_format.read_text,
              "csv": csv_format.read_csv, "teleantifraud": teleantifraud.read_teleantifraud}[fmt]
    count = 0
    for record in reader(source):
        count += 1
        yield record
    if count == 0:
        raise InputError(f"{source.name}: no dialogues found (is it empty or only whitespace?)")


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


__all__ = ["FORMATS", "InputError", "Record", "Source", "iter_records", "read_dialogues", "read_text", "sniff_format"]
