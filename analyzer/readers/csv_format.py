"""CSV transcripts: one row per turn with case, speaker and content columns (tactics and label optional).

Excel's exports read as they are: a UTF-8 byte-order mark, CRLF line ends, cells spanning lines, and tab- or
semicolon-separated files. Other columns are kept per turn (in meta["turn_fields"]).
"""
from __future__ import annotations

import csv
from typing import Iterator, Optional

from analyzer.readers.base import TURN_FIELDS, InputError, Record, Source, to_record

COLUMNS = {"case": ("case", "case_id", "dialogue_id", "id", "对话", "案例"),
           "speaker": ("speaker", "role", "说话人", "角色"),
           "content": ("content", "text", "utterance", "内容", "文本")}
DELIMITERS = (",", "\t", ";")


def looks_like_header(first_line: str, delimiter: str = ",") -> bool:
    cells = [c.strip().strip('"').strip() for c in first_line.rstrip("\r\n").split(delimiter)]
    return len(cells) >= 3 and all(any(n in cells for n in names) for names in COLUMNS.values())


def header_delimiter(first_line: str) -> Optional[str]:
    """The delimiter with which the (lower-cased) first line is a CSV header, or None when it is not one."""
    return next((d for d in DELIMITERS if looks_like_header(first_line, d)), None)


def read_csv(source: Source) -> Iterator[Record]:
    for case, group in _rows_by_case(source).items():
        where = f"{source.name}:{group.pop('line')}"
        if not case:
            yield Record(where, error=f"{where}: row without a case id")
            continue
        yield to_record(group, where, default_id=case)


def _rows_by_case(source: Source) -> dict[str, dict]:
    """Dialogue dicts by case id, in order of first appearance."""
    lines = source.lines()
    first = next(lines, "")
    delimiter = header_delimiter(first.lower()) or ","
    rows = (line + "\n" for line in lines)  # the line ends back, so that a quoted cell keeps its line breaks
    number = 1
    try:
        reader = csv.DictReader(rows, fieldnames=next(csv.reader([first], delimiter=delimiter), []),
                                delimiter=delimiter)
        header = [h.strip().lower() for h in reader.fieldnames]
        pick = {}
        for key, names in COLUMNS.items():
            found = [h for h in reader.fieldnames if h.strip().lower() in names]
            if not found:
                raise InputError(f"{source.name}:1: CSV header lacks a {key} column (have: {', '.join(header)})")
            pick[key] = found[0]
        named = {h.strip().lower(): h for h in reversed(reader.fieldnames)}  # the first column of a name wins
        tactics, label = named.get("tactics"), named.get("label")
        others = {h: h.strip() if h.strip() not in TURN_FIELDS else f"column {h.strip()}"  # a 2nd "text" column
                  for h in reader.fieldnames if h.strip() and h not in (*pick.values(), tactics, label)}
        groups: dict[str, dict] = {}
        number = 2
        for row in reader:
            case = (row.get(pick["case"]) or "").strip()
            group = groups.setdefault(case, {"id": case, "turns": [], "line": number})
            turn = {"speaker": (row.get(pick["speaker"]) or "").strip(), "text": row.get(pick["content"]) or ""}
            turn.update({extra: row[h] for h, extra in others.items() if row.get(h)})
            if tactics and row.get(tactics):
                turn["tactics"] = [t.strip() for t in row[tactics].replace(";", "|").split("|") if t.strip()]
            group["turns"].append(turn)
            if label and row.get(label):
                group["label"] = row[label].strip()
            number = reader.line_num + 2  # the header line is not counted by the reader
    except csv.Error as err:
        raise InputError(f"{source.name}:{number}: invalid CSV ({err})") from None
    return groups
