"""CSV transcripts: one row per turn with case, speaker and content columns (tactics and label optional)."""
from __future__ import annotations

import csv
from typing import Iterator

from analyzer.readers.base import InputError, Record, Source, to_record

COLUMNS = {"case": ("case", "case_id", "dialogue_id", "id", "对话", "案例"),
           "speaker": ("speaker", "role", "说话人", "角色"),
           "content": ("content", "text", "utterance", "内容", "文本")}


def looks_like_header(first_line: str) -> bool:
    cells = [c.strip('"') for c in first_line.split(",")]
    return len(cells) >= 3 and all(any(n in cells for n in names) for names in COLUMNS.values())


def read_csv(source: Source) -> Iterator[Record]:
    reader = csv.DictReader(source.lines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    pick = {}
    for key, names in COLUMNS.items():
        found = [h for h in reader.fieldnames or [] if h.strip().lower() in names]
        if not found:
            raise InputError(f"{source.name}:1: CSV header lacks a {key} column (have: {', '.join(header)})")
        pick[key] = found[0]
    groups: dict[str, dict] = {}
    for number, row in enumerate(reader, start=2):
        case = (row.get(pick["case"]) or "").strip()
        group = groups.setdefault(case, {"id": case, "turns": [], "line": number})
        turn = {"speaker": (row.get(pick["speaker"]) or "").strip(), "text": row.get(pick["content"]) or ""}
        if row.get("tactics"):
            turn["tactics"] = [t.strip() for t in row["tactics"].replace(";", "|").split("|") if t.strip()]
        group["turns"].append(turn)
        if row.get("label"):
            group["label"] = row["label"].strip()
    for case, group in groups.items():
        where = f"{source.name}:{group.pop('line')}"
        if not case:
            yield Record(where, error=f"{where}: row without a case id")
            continue
        yield to_record(group, where, default_id=case)
