"""The project's own format: one dialogue per JSON line, or a JSON array of the same objects (or one of them).

Fields the schema does not know (a turn's `timestamp`, a dialogue's `channel`) are kept in `meta`, not rejected.
"""
from __future__ import annotations

import json
from typing import Iterator

from analyzer.readers.base import InputError, Record, Source, to_record, unicode_error


def parse(text: str):
    """json.loads, with nesting too deep for the parser reported like any other invalid JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def json_lines(source: Source) -> Iterator[tuple[str, int, object]]:
    """(location, line number, parsed object) per non-blank line; an unparsable line yields a Record instead."""
    for number, line in enumerate(source.lines(), start=1):
        if not line.strip():
            continue
        where = f"{source.name}:{number}"
        try:
            obj = parse(line)
        except json.JSONDecodeError as err:
            yield where, number, Record(where, error=f"{where}: invalid JSON ({err.msg} at column {err.colno})")
            continue
        problem = unicode_error(obj, line)
        yield where, number, Record(where, error=f"{where}: {problem}") if problem else obj


def read_jsonl(source: Source) -> Iterator[Record]:
    for where, number, obj in json_lines(source):
        yield obj if isinstance(obj, Record) else to_record(obj, where, default_id=f"line-{number}")


def read_json_array(source: Source) -> Iterator[Record]:
    text = source.text()
    try:
        data = parse(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{source.name}:{err.lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
    if isinstance(data, dict):  # one dialogue
        data = [data]
    if not isinstance(data, list):
        raise InputError(f"{source.name}: expected a JSON array of dialogues (or one dialogue object)")
    suspect = unicode_error(data, text) is not None  # then find the dialogues at fault
    for index, obj in enumerate(data):
        where = f"{source.name}[{index}]"
        problem = unicode_error(obj, json.dumps(obj)) if suspect else None
        yield Record(where, error=f"{where}: {problem}") if problem else to_record(obj, where, default_id=f"item-{index}")
