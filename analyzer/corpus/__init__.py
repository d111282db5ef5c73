"""The project's annotated corpus: gold splits with per-turn tactics, and the TeleAntiFraud silver set.

>>> from analyzer.corpus import load_corpus
>>> gold = load_corpus("gold")
>>> sorted(gold)
['dev', 'test', 'train']
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator

from analyzer.paths import DATASETS_DIR

GOLD_DIR = DATASETS_DIR / "gold"
SILVER_FILE = DATASETS_DIR / "silver" / "teleantifraud.jsonl.gz"
SPLITS = ("train", "dev", "test")


def split_path(split: str) -> Path:
    return GOLD_DIR / f"{split}.jsonl"


def iter_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_split(split: str) -> list[dict]:
    """A gold split ('train', 'dev', 'test') or 'silver', as plain dicts in the transcript format."""
    if split == "silver":
        return list(iter_jsonl(SILVER_FILE))
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)} or silver")
    return list(iter_jsonl(split_path(split)))


def resolve_data(name_or_path: str) -> list[dict]:
    """A split name ('test', 'gold:dev', 'silver') or a transcript file path -> list of dialogue dicts."""
    name = name_or_path.removeprefix("gold:")
    if name in SPLITS or name == "silver":
        return load_split(name)
    from analyzer.readers import read_dialogues
    dialogues, _ = read_dialogues(name_or_path)
    return [d.to_dict() for d in dialogues]


def load_corpus(part: str = "gold"):
    """A Hugging Face `datasets.DatasetDict`: part 'gold' (train/dev/test) or 'silver' (one 'train' split).

    Nested fields (turns, meta) are kept as JSON-compatible structures; `meta` is serialised to a string because
    its keys differ between sources.
    """
    from datasets import Dataset, DatasetDict

    def rows(dialogues):
        return [{"id": d["id"], "label": d.get("label"), "scam_type": d.get("scam_type"), "source": d.get("source"),
                 "turns": [{"speaker": t["speaker"], "text": t["text"], "tactics": t.get("tactics") or []}
                           for t in d["turns"]],
                 "meta": json.dumps(d.get("meta") or {}, ensure_ascii=False)} for d in dialogues]

    if part == "gold":
        return DatasetDict({s: Dataset.from_list(rows(load_split(s))) for s in SPLITS})
    if part == "silver":
        return DatasetDict({"train": Dataset.from_list(rows(load_split("silver")))})
    raise ValueError(f"unknown corpus part {part!r}; choose gold or silver")
