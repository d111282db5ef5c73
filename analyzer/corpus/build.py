"""Build datasets/gold/{train,dev,test}.jsonl and datasets/silver/ from datasets/raw and ../shared/data.

Run with `make corpus` (python -m analyzer.corpus.build). Steps, each reported:
1. gold pool: written dialogues + turn-annotated TeleAntiFraud dialogues, with the agreement study's adjudications;
2. near-duplicates (character 5-gram Jaccard >= DROP) are dropped, keeping the first;
3. dialogues that are merely similar (>= GROUP) form groups that never cross splits;
4. a stratified split by label and type, 70/15/15, with the test split frozen once written (ids and checksum in
   datasets/gold/test.lock.json, written by `--freeze`: later builds keep it and refuse to change it);
5. the silver set: all of TeleAntiFraud, deduplicated, minus anything near a gold dialogue.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections import Counter, defaultdict
from pathlib import Path

from analyzer.corpus import GOLD_DIR, SILVER_FILE, SPLITS, split_path
from analyzer.corpus.dedup import clusters, dialogue_text, distinct_ngram_share, similar_pairs
from analyzer.paths import DATASETS_DIR, REPO_DIR
from analyzer.readers import iter_records
from analyzer.readers.teleantifraud import SCAM_TYPE_MAP
from analyzer.schema import Dialogue

RAW = DATASETS_DIR / "raw"
SHARED_TAF = REPO_DIR.parent / "shared" / "data" / "teleantifraud-multiagent"
LOCK = GOLD_DIR / "test.lock.json"
DROP, GROUP, SILVER_DROP = 0.6, 0.35, 0.8
SEED = 20261129
FRACTIONS = {"train": 0.70, "dev": 0.15, "test": 0.15}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if path.exists() else []


def _by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in rows}


def written_dialogues() -> list[dict]:
    out = []
    for path in sorted((RAW / "written").glob("*.jsonl")):
        for number, row in enumerate(_jsonl(path), 1):
            try:
                out.append(Dialogue.model_validate(row).to_dict())
            except Exception as err:  # report and leave out; the writers' files are data, not code
                print(f"  skipped {path.name}:{number}: {str(err).splitlines()[0]}")
    return out


def _apply(tactics: list[list[str]], fixes: list[dict]) -> list[list[str]]:
    tactics = [list(t) for t in tactics]
    for fix in fixes:
        tactics[fix["turn"]] = sorted(set(fix["tactics"]))
    return tactics


def teleantifraud_gold() -> list[dict]:
    """The TeleAntiFraud dialogues annotated turn by turn, with adjudicated and corrected labels."""
    base = {}
    for part in ("a", "b"):
        texts = _by_id(_jsonl(RAW / "teleantifraud" / f"unlabeled_{part}.jsonl"))
        for row in _jsonl(RAW / "teleantifraud" / f"tactics_{part}.jsonl"):
            base[row["id"]] = (texts[row["id"]], row["tactics"])
    fixes = defaultdict(list)
    for name in ("taf_b_sensitive_fixes.jsonl", "taf_adjudicated.jsonl"):  # adjudication applied last wins
        for fix in _jsonl(RAW / "agreement" / name):
            fixes[fix["id"]].append(fix)
    out = []
    for did, (row, tactics) in base.items():
        tactics = _apply(tactics, fixes.get(did, []))
        file_part, line = did.removeprefix("taf-").rsplit("-L", 1)
        kind = row["taf_type"]
        dialogue = {"id": did, "turns": [{**t, "tactics": tac} for t, tac in zip(row["turns"], tactics, strict=True)],
                    "label": row["label"], "source": "teleantifraud",
                    "meta": {"taf_type": kind, "provenance": f"{file_part}*.jsonl line {line}", "lookalike": False}}
        if row["label"] == "scam":
            dialogue["scam_type"] = SCAM_TYPE_MAP[kind]
        out.append(Dialogue.model_validate(dialogue).to_dict())
    return out


def apply_written_adjudication(dialogues: list[dict]) -> None:
    fixes = defaultdict(list)
    for fix in _jsonl(RAW / "agreement" / "written_adjudicated.jsonl"):
        fixes[fix["id"]].append(fix)
    for d in dialogues:
        if d["id"] in fixes:
            tactics = _apply([t.get("tactics") or [] for t in d["turns"]], fixes[d["id"]])
            for turn, tac in zip(d["turns"], tactics):
                turn["tactics"] = tac


def stratum(d: dict) -> str:
    meta = d.get("meta") or {}
    return f"{d.get('label')}/{d.get('scam_type') or meta.get('benign_type') or meta.get('taf_type') or 'other'}"


def split_groups(groups: list[list[dict]], frozen_test: set[str]) -> dict[str, list[dict]]:
    """Assign whole groups to splits, stratified by the stratum of each group's first dialogue."""
    rng = random.Random(SEED)
    splits = {s: [] for s in SPLITS}
    free = []
    for group in groups:
        if any(d["id"] in frozen_test for d in group):
            splits["test"].extend(group)
        else:
            free.append(group)
    by_stratum = defaultdict(list)
    for group in free:
        by_stratum[stratum(group[0])].append(group)
    for key in sorted(by_stratum):
        items = by_stratum[key]
        rng.shuffle(items)
        total = sum(len(g) for g in items)
        targets = {"dev": round(total * FRACTIONS["dev"]),
                   "test": 0 if frozen_test else round(total * FRACTIONS["test"])}
        filled = Counter()
        for group in items:
            for name in ("test", "dev"):
                if filled[name] < targets[name]:
                    splits[name].extend(group)
                    filled[name] += len(group)
                    break
            else:
                splits["train"].extend(group)
    return splits


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_jsonl(path: Path, rows: list[dict], compress: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if compress:
        data = gzip.compress(data, mtime=0)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def build_silver(gold: list[dict]) -> tuple[list[dict], dict]:
    rows = []
    for path in sorted(SHARED_TAF.glob("*_dialogues-*.jsonl")):
        for record in iter_records(path, fmt="teleantifraud"):
            if record.dialogue is None:
                continue
            d = record.dialogue.to_dict()
            d["id"] = f"{d['id']}@{path.stem.split('-', 1)[1]}"
            d["meta"]["provenance"] = f"{path.name} line {record.location.rsplit(':', 1)[1]}"
            rows.append(d)
    texts = [dialogue_text(d) for d in rows]
    dup_pairs = similar_pairs(texts, SILVER_DROP)
    keep = {min(c) for c in clusters(len(rows), dup_pairs)}
    silver = [rows[i] for i in sorted(keep)]
    gold_texts = [dialogue_text(d) for d in gold]
    both = gold_texts + [dialogue_text(d) for d in silver]
    near_gold = {j - len(gold) for i, j, _ in similar_pairs(both, 0.5) if i < len(gold) <= j}
    silver = [d for k, d in enumerate(silver) if k not in near_gold]
    report = {"source_rows": len(rows), "after_dedup": len(keep), "removed_near_gold": len(near_gold),
              "final": len(silver)}
    return silver, report


def main(freeze: bool = False) -> None:
    print("gold pool")
    written = written_dialogues()
    apply_written_adjudication(written)
    taf = teleantifraud_gold()
    pool = sorted(written + taf, key=lambda d: d["id"])
    print(f"  written {len(written)}, teleantifraud turn-annotated {len(taf)}")
    texts = [dialogue_text(d) for d in pool]
    drop_clusters = clusters(len(pool), similar_pairs(texts, DROP))
    largest = max(len(c) for c in drop_clusters)
    kept_idx = sorted(min(c) for c in drop_clusters)
    print(f"  near-duplicates (5-gram Jaccard >= {DROP}): largest cluster {largest}, dropped {len(pool) - len(kept_idx)}")
    pool = [pool[i] for i in kept_idx]
    texts = [texts[i] for i in kept_idx]
    groups = [[pool[i] for i in c] for c in clusters(len(pool), similar_pairs(texts, GROUP))]
    print(f"  similarity groups (>= {GROUP}): {len(groups)}, largest {max(len(g) for g in groups)}")

    lock = json.loads(LOCK.read_text()) if LOCK.exists() else None
    frozen = set(lock["ids"]) if lock else set()
    splits = split_groups(groups, frozen)
    if lock:
        old_test = {d["id"]: d for d in _jsonl(split_path("test"))}
        splits["test"] = [old_test[i] for i in lock["ids"]]  # frozen: byte-for-byte the locked rows
        ids = {d["id"] for s in ("train", "dev") for d in splits[s]}
        assert not ids & frozen
    for name in SPLITS:
        splits[name].sort(key=lambda d: d["id"])
        write_jsonl(split_path(name), splits[name])
    if lock:
        if checksum(split_path("test")) != lock["sha256"]:
            raise SystemExit("the frozen test split changed; restore datasets/gold/test.jsonl from git")
    elif freeze:
        LOCK.write_text(json.dumps({"sha256": checksum(split_path("test")),
                                    "ids": [d["id"] for d in splits["test"]]}, indent=1) + "\n")
    cross = cross_split_pairs(splits)
    print(f"  cross-split pairs with 5-gram Jaccard >= {GROUP}: {cross}")

    print("silver set")
    silver, report = build_silver(pool)
    write_jsonl(SILVER_FILE, silver, compress=True)
    print("  " + ", ".join(f"{k} {v}" for k, v in report.items()))
    build_report = {"drop_threshold": DROP, "group_threshold": GROUP, "largest_near_duplicate_cluster": largest,
                    "dropped_near_duplicates": len(written) + len(taf) - len(pool), "cross_split_pairs": cross,
                    "distinct_5gram_share": round(distinct_ngram_share(texts), 4), "silver": report,
                    "test_sha256": checksum(split_path("test"))}
    (GOLD_DIR / "build_report.json").write_text(json.dumps(build_report, indent=2) + "\n")
    from analyzer.corpus.stats import main as stats_main
    stats_main()


def cross_split_pairs(splits: dict[str, list[dict]]) -> int:
    rows = [(name, d) for name in SPLITS for d in splits[name]]
    pairs = similar_pairs([dialogue_text(d) for _, d in rows], GROUP)
    return sum(rows[i][0] != rows[j][0] for i, j, _ in pairs)


if __name__ == "__main__":
    import sys
    main(freeze="--freeze" in sys.argv[1:])
