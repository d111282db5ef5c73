"""Check raw annotated transcripts against the annotation guide's rules; standard library only.

Writers run it on their own files (`python -m analyzer.corpus.validate FILE...`); the corpus build runs the same
check and stops on the first bad row with file, line and reason, so nothing half-built is written.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from analyzer.taxonomy import SCAM_TYPES, TACTIC_BY_ID

LABELS = ("scam", "benign")
REGISTERS = ("written", "asr", "chat", "sms_call", "report")


class RawRowError(ValueError):
    """A raw row that breaks the format or the guide; the message names file, line and reason."""


def row_problem(row) -> str | None:
    """The first problem with one raw dialogue, or None when it follows the format and the guide."""
    if not isinstance(row, dict):
        return "a line must be a JSON object"
    if not isinstance(row.get("id"), str) or not row["id"].strip():
        return "missing or empty 'id'"
    label = row.get("label")
    if label not in LABELS:
        return f"'label' must be scam or benign, not {label!r}"
    turns = row.get("turns")
    if not isinstance(turns, list) or not turns:
        return "'turns' must be a non-empty list"
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            return f"turn {i} is not an object"
        if not isinstance(turn.get("speaker"), str) or not turn["speaker"].strip():
            return f"turn {i} has no speaker"
        if not isinstance(turn.get("text"), str) or not turn["text"].strip():
            return f"turn {i} has no text"
        tactics = turn.get("tactics", [])
        if not isinstance(tactics, list) or any(t not in TACTIC_BY_ID for t in tactics):
            return f"turn {i} has unknown tactics {tactics!r}"
        if len(set(tactics)) != len(tactics):
            return f"turn {i} repeats a tactic"
        if label == "benign" and tactics:
            return f"turn {i}: a benign dialogue carries no tactics (guide, principle 3)"
    meta = row.get("meta") or {}
    if not isinstance(meta, dict):
        return "'meta' must be an object"
    if label == "scam":
        if row.get("scam_type") not in SCAM_TYPES:
            return f"unknown scam_type {row.get('scam_type')!r}"
        if not any(t.get("tactics") for t in turns):
            return "a scam dialogue with no tactic on any turn"
    else:
        if row.get("scam_type"):
            return "a benign dialogue has no scam_type"
        if not isinstance(meta.get("benign_type"), str) or not meta["benign_type"]:
            return "a benign dialogue needs meta.benign_type"
        if not isinstance(meta.get("lookalike"), bool):
            return "a benign dialogue needs meta.lookalike (true or false)"
    if "register" in meta and meta["register"] not in REGISTERS:
        return f"meta.register must be one of {', '.join(REGISTERS)}"
    return None


def read_raw(path: Path) -> list[dict]:
    """All rows of a raw JSONL file; raises RawRowError naming the file, line and reason at the first bad row."""
    rows, seen = [], set()
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise RawRowError(f"{path}:{number}: invalid JSON ({err.msg})") from None
            problem = row_problem(row)
            if problem is None and row["id"] in seen:
                problem = f"duplicate id {row['id']!r}"
            if problem:
                raise RawRowError(f"{path}:{number}: {problem}")
            seen.add(row["id"])
            rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m analyzer.corpus.validate [--summary] FILE.jsonl [FILE.jsonl ...]", file=sys.stderr)
        return 2
    summary = "--summary" in argv
    argv = [a for a in argv if a != "--summary"]
    status = 0
    for name in argv:
        try:
            rows = read_raw(Path(name))
        except (OSError, RawRowError) as err:
            print(f"error: {err}", file=sys.stderr)
            status = 2
            continue
        scams = sum(r["label"] == "scam" for r in rows)
        print(f"{name}: {len(rows)} dialogues ok ({scams} scam, {len(rows) - scams} benign)")
        if rows and summary:
            from analyzer.corpus.registers import writer_summary

            print(f"  {writer_summary(rows)}")
    return status


if __name__ == "__main__":  # also `python -m analyzer corpus validate`; runs without any installed package
    sys.exit(main(sys.argv[1:]))
