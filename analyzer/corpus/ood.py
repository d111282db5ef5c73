"""The two frozen out-of-distribution test sets: `ood/unseen_types` and `ood/wild` (datasets/ood/).

`python -m analyzer corpus freeze-ood` assembles them from the independent writers' files (datasets/raw/ood/, briefs
in BRIEFS.md there) and writes `<name>.jsonl` with a sha256 lock `<name>.lock.json`, once: a later call checks the
files against their locks and refuses to change them. They are test sets only: never used for training, model
selection, thresholds or calibration; no scam type of `unseen_types` may occur in train or dev.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from analyzer.corpus.validate import read_raw
from analyzer.paths import DATASETS_DIR

OOD_DIR = DATASETS_DIR / "ood"
RAW_OOD = DATASETS_DIR / "raw" / "ood"
OOD_SETS = {"unseen_types": ("u1", "u2", "u3"), "wild": ("w1", "w2", "w3", "w4", "w5")}


class FrozenSetError(RuntimeError):
    """An OOD set that does not match its lock, or a rule of the sets that does not hold."""


def ood_path(name: str) -> Path:
    return OOD_DIR / f"{name}.jsonl"


def lock_path(name: str) -> Path:
    return OOD_DIR / f"{name}.lock.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assemble(name: str) -> list[dict]:
    rows = []
    for writer in OOD_SETS[name]:
        rows += read_raw(RAW_OOD / f"{writer}.jsonl")
    return sorted(rows, key=lambda d: d["id"])


def group(dialogue: dict) -> str:
    return dialogue.get("scam_type") if dialogue["label"] == "scam" else (dialogue.get("meta") or {}).get("benign_type")


def check_rules(sets: dict[str, list[dict]], train_dev: list[dict]) -> dict:
    """The corpus issue's rules for the OOD sets; raises FrozenSetError naming the first that fails."""
    seen_scam = {d.get("scam_type") for d in train_dev if d["label"] == "scam"}
    seen_benign = {(d.get("meta") or {}).get("benign_type") for d in train_dev if d["label"] != "scam"}
    unseen = sets["unseen_types"]
    new_scam = {d["scam_type"] for d in unseen if d["label"] == "scam"}
    new_benign = {group(d) for d in unseen if d["label"] != "scam"}
    problems = []
    if new_scam & seen_scam:
        problems.append(f"unseen_types scam types occur in train/dev: {sorted(new_scam & seen_scam)}")
    if new_benign & seen_benign:
        problems.append(f"unseen_types benign situations occur in train/dev: {sorted(new_benign & seen_benign)}")
    wild_types = {d["scam_type"] for d in sets["wild"] if d["label"] == "scam"}
    if wild_types & new_scam:
        problems.append(f"wild uses unseen_types scam types: {sorted(wild_types & new_scam)}")
    from analyzer.corpus.dedup import dialogue_text, similar_pairs
    ood_rows = [d for rows in sets.values() for d in rows]
    texts = [dialogue_text(d) for d in ood_rows] + [dialogue_text(d) for d in train_dev]
    near = [(i, j) for i, j, _ in similar_pairs(texts, 0.35) if i < len(ood_rows) <= j]
    if near:
        problems.append(f"{len(near)} OOD dialogues are near a train/dev dialogue (5-gram Jaccard >= 0.35), e.g. "
                        f"{ood_rows[near[0][0]]['id']} ~ {train_dev[near[0][1] - len(ood_rows)]['id']}")
    if problems:
        raise FrozenSetError("; ".join(problems))
    return {name: {"dialogues": len(rows), "benign": sum(d["label"] != "scam" for d in rows),
                   "groups": dict(sorted(Counter(group(d) for d in rows).items()))} for name, rows in sets.items()}


def verify(name: str) -> None:
    """Raise FrozenSetError unless the set's file matches its lock."""
    path, lock = ood_path(name), lock_path(name)
    if not path.exists() or not lock.exists():
        raise FrozenSetError(f"{path} or its lock is missing; run `python -m analyzer corpus freeze-ood`")
    if sha256(path) != json.loads(lock.read_text())["sha256"]:
        raise FrozenSetError(f"{path} does not match {lock.name}: a frozen test set changed; restore it from git")


def freeze(train_dev: list[dict]) -> dict:
    """Write and lock both sets; when they exist already, only verify them against their locks."""
    if all(lock_path(n).exists() for n in OOD_SETS):
        for name in OOD_SETS:
            verify(name)
        return {"frozen": True, "sets": {n: json.loads(lock_path(n).read_text()) for n in OOD_SETS}}
    sets = {name: assemble(name) for name in OOD_SETS}
    report = check_rules(sets, train_dev)
    OOD_DIR.mkdir(parents=True, exist_ok=True)
    for name, rows in sets.items():
        path = ood_path(name)
        tmp = path.with_suffix(".jsonl.part")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(path)
        lock_path(name).write_text(json.dumps({"sha256": sha256(path), "dialogues": len(rows),
                                               "writers": list(OOD_SETS[name]), **report[name]},
                                              ensure_ascii=False, indent=1) + "\n")
    return {"frozen": False, "sets": report}
