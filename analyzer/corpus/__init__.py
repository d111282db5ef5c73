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


OOD_NAMES = ("ood/unseen_types", "ood/wild")
NAMED_DATA = SPLITS + ("silver",) + OOD_NAMES


def gold_tactics(dialogue: dict) -> list[list[str]]:
    """The gold tactics of each turn of a dialogue dict (an unlabelled turn has none)."""
    return [t.get("tactics") or [] for t in dialogue["turns"]]


def load_split(split: str) -> list[dict]:
    """A gold split ('train', 'dev', 'test'), 'silver', or a frozen OOD set ('ood/unseen_types', 'ood/wild'), as
    plain dicts in the transcript format. An OOD set is checked against its sha256 lock first."""
    if split == "silver":
        return list(iter_jsonl(SILVER_FILE))
    if split in OOD_NAMES:
        from analyzer.corpus.ood import ood_path, verify
        name = split.removeprefix("ood/")
        verify(name)
        return list(iter_jsonl(ood_path(name)))
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(NAMED_DATA)}")
    return list(iter_jsonl(split_path(split)))


def resolve_data(name_or_path: str) -> list[dict]:
    """A named split ('test', 'gold:dev', 'silver', 'ood/wild') or a transcript file path -> list of dialogue dicts."""
    name = name_or_path.removeprefix("gold:")
    if name in NAMED_DATA:
        return load_split(name)
    from analyzer.readers import read_dialogues
    dialogues, _ = read_dialogues(name_or_path)
    return [d.to_dict() for d in dialogues]


def load_corpus(part: str = "gold"):
    """A Hugging Face `datasets.DatasetDict`: part 'gold' (train/dev/test), 'silver' (one 'train' split) or 'ood'
    (unseen_types, wild).

    Nested fields (turns, meta) are kept as JSON-compatible structures; `meta` is serialised to a string because
    its keys differ between sources; `label` is a ClassLabel (0 benign, 1 scam).
    """
    from datasets import ClassLabel, Dataset, DatasetDict

    def dataset(dialogues):
        return Dataset.from_list(rows(dialogues)).cast_column("label", ClassLabel(names=["benign", "scam"]))

    def rows(dialogues):
        return [{"id": d["id"], "label": d.get("label"), "scam_type": d.get("scam_type"), "source": d.get("source"),
                 "turns": [{"speaker": t["speaker"], "text": t["text"], "tactics": tactics}
                           for t, tactics in zip(d["turns"], gold_tactics(d))],
                 "meta": json.dumps(d.get("meta") or {}, ensure_ascii=False)} for d in dialogues]

    if part == "gold":
        return DatasetDict({s: dataset(load_split(s)) for s in SPLITS})
    if part == "silver":
        return DatasetDict({"train": dataset(load_split("silver"))})
    if part == "ood":
        return DatasetDict({n.removeprefix("ood/"): dataset(load_split(n)) for n in OOD_NAMES})
    raise ValueError(f"unknown corpus part {part!r}; choose gold, silver or ood")
