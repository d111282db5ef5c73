"""The project's own format: one dialogue per JSON line, or a JSON array of the same objects."""
from __future__ import annotations

import json
from typing import Iterator

from analyzer.readers.base import InputError, Record, Source, to_record


def json_lines(source: Source) -> Iterator[tuple[str, int, object]]:
    """(location, line number, parsed object) per non-blank line; an unparsable line yields a Record instead."""
    for number, line in enumerate(source.lines(), start=1):
        if not line.strip():
            continue
        where = f"{source.name}:{number}"
        try:
            yield where, number, json.loads(line)
        except json.JSONDecodeError as err:
            yield where, number, Record(where, error=f"{where}: invalid JSON ({err.msg} at column {err.colno})")


def read_jsonl(source: Source) -> Iterator[Record]:
    for where, number, obj in json_lines(source):
        yield obj if isinstance(obj, Record) else to_record(obj, where, default_id=f"line-{number}")


def read_json_array(source: Source) -> Iterator[Record]:
    try:
        data = json.loads(source.text())
    except json.JSONDecodeError as err:
        raise InputError(f"{source.name}:{err.lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(data, list):
        raise InputError(f"{source.name}: expected a JSON array of dialogues")
    for index, obj in enumerate(data):
        yield to_record(obj, f"{source.name}[{index}]", default_id=f"item-{index}")
