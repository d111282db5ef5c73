"""Build datasets/gold/{train,dev,test}.jsonl and datasets/silver/ from datasets/raw and ../shared/data.

Run with `make corpus` (python -m analyzer corpus build). Steps, each reported:
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

from analyzer.corpus import GOLD_DIR, SILVER_FILE, SPLITS, gold_tactics, split_path
from analyzer.corpus.dedup import clusters, dialogue_text, distinct_ngram_share, similar_pairs
from analyzer.paths import DATASETS_DIR, REPO_DIR
from analyzer.readers import iter_records
from analyzer.readers.teleantifraud import SCAM_TYPE_MAP
from analyzer.corpus.validate import RawRowError, read_raw
from analyzer.schema import Dialogue
from analyzer.taxonomy import unknown_tactics

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
    """The v1 written batches (raw/written) and the v2 additions (raw/written_v2, checked strictly: a malformed row
    stops the build with file, line and reason before anything is written)."""
    out = []
    for path in sorted((RAW / "written").glob("*.jsonl")):
        for number, row in enumerate(_jsonl(path), 1):
            try:
                out.append(Dialogue.model_validate(row).to_dict())
            except Exception as err:  # report and leave out; the writers' files are data, not code
                print(f"  skipped {path.name}:{number}: {str(err).splitlines()[0]}")
    for path in sorted((RAW / "written_v2").glob("*.jsonl")):
        out += [Dialogue.model_validate(row).to_dict() for row in read_raw(path)]
    return out


def apply_v2_relabel(dialogues: list[dict]) -> dict:
    """Guide v2.0 re-labelling (raw/relabel_v2/*.jsonl): per changed turn its complete new tactics, a text with a
    stage note removed, or a dropped non-speech turn. Turn numbers refer to the turns before any drop."""
    by_id = {d["id"]: d for d in dialogues}
    fixes = defaultdict(list)
    for path in sorted((RAW / "relabel_v2").glob("*.jsonl")):
        for number, fix in enumerate(_jsonl(path), 1):
            d = by_id.get(fix.get("id"))
            where = f"{path}:{number}"
            if d is None:
                raise RawRowError(f"{where}: unknown dialogue id {fix.get('id')!r}")
            if not isinstance(fix.get("turn"), int) or not 0 <= fix["turn"] < len(d["turns"]):
                raise RawRowError(f"{where}: turn {fix.get('turn')!r} is not a turn of {d['id']}")
            if not fix.get("drop") and unknown_tactics(fix.get("tactics") or []):
                raise RawRowError(f"{where}: unknown tactics {unknown_tactics(fix['tactics'])}")
            fixes[d["id"]].append(fix)
    counts = Counter()
    for did, rows in fixes.items():
        d = by_id[did]
        dropped = set()
        for fix in rows:
            turn = d["turns"][fix["turn"]]
            if fix.get("drop"):
                dropped.add(fix["turn"])
                counts["dropped_turns"] += 1
                continue
            if "text" in fix and fix["text"].strip():
                turn["text"] = fix["text"]
                counts["text_edits"] += 1
            if "tactics" in fix:
                new = sorted(set(fix["tactics"])) if d["label"] == "scam" else []
                counts["added"] += len(set(new) - set(turn.get("tactics") or []))
                counts["removed"] += len(set(turn.get("tactics") or []) - set(new))
                turn["tactics"] = new
        if dropped and len(dropped) < len(d["turns"]):
            d["turns"] = [t for i, t in enumerate(d["turns"]) if i not in dropped]
    counts["dialogues"] = len(fixes)
    return dict(counts)


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
            tactics = _apply(gold_tactics(d), fixes[d["id"]])
            for turn, tac in zip(d["turns"], tactics):
                turn["tactics"] = tac


def stratum(d: dict) -> str:
    meta = d.get("meta") or {}
    return f"{d.get('label')}/{d.get('scam_type') or meta.get('benign_type') or meta.get('taf_type') or 'other'}"


def split_groups(groups: list[list[dict]], previous: dict[str, str], grow_test: bool) -> dict[str, list[dict]]:
    """Whole groups to splits. A group with a dialogue already in a split stays there (test first), so splits are
    stable across builds; new groups are stratified by label and type, 70/15/15 (no new test rows once the test
    split is locked)."""
    rng = random.Random(SEED)
    splits = {s: [] for s in SPLITS}
    free = []
    for group in groups:
        known = [previous[d["id"]] for d in group if d["id"] in previous]
        if known:
            splits["test" if "test" in known else known[0]].extend(group)
        else:
            free.append(group)
    by_stratum = defaultdict(list)
    for group in free:
        by_stratum[stratum(group[0])].append(group)
    for key in sorted(by_stratum):
        items = by_stratum[key]
        rng.shuffle(items)
        total = sum(len(g) for g in items)
        targets = {"dev": round(total * FRACTIONS["dev"]), "test": round(total * FRACTIONS["test"]) if grow_test else 0}
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


def previous_splits() -> dict[str, str]:
    return {d["id"]: name for name in SPLITS for d in _jsonl(split_path(name))}


def migrate_v1_test_lock() -> bool:
    """Keep the v1 test split frozen for history (test_v1.jsonl + test_v1.lock.json); True when this build must
    freeze the re-labelled (v2) test split anew."""
    if not LOCK.exists():
        return False
    lock = json.loads(LOCK.read_text())
    if lock.get("version", 1) >= 2:
        return False
    v1, v1_lock = GOLD_DIR / "test_v1.jsonl", GOLD_DIR / "test_v1.lock.json"
    if checksum(split_path("test")) != lock["sha256"]:
        raise SystemExit("the frozen v1 test split changed; restore datasets/gold/test.jsonl from git")
    v1.write_bytes(split_path("test").read_bytes())
    v1_lock.write_text(json.dumps(lock, indent=1) + "\n")
    LOCK.unlink()
    return True


def remove_near_ood(pool: list[dict]) -> tuple[list[dict], int]:
    """Leave out of the gold pool anything near a dialogue of the frozen OOD test sets."""
    from analyzer.corpus import OOD_NAMES, load_split
    ood = [d for name in OOD_NAMES for d in load_split(name)]
    unseen = {d["scam_type"] for d in load_split("ood/unseen_types") if d["label"] == "scam"}
    bad = sorted({d["id"] for d in pool if d.get("scam_type") in unseen})
    if bad:
        raise RawRowError(f"gold dialogues of scam types held out for ood/unseen_types: {', '.join(bad[:5])}")
    texts = [dialogue_text(d) for d in pool] + [dialogue_text(d) for d in ood]
    near = {i for i, j, _ in similar_pairs(texts, GROUP) if i < len(pool) <= j}
    return [d for i, d in enumerate(pool) if i not in near], len(near)


def main(freeze: bool = False) -> None:
    print("gold pool")
    written = written_dialogues()
    apply_written_adjudication(written)
    taf = teleantifraud_gold()
    pool = sorted(written + taf, key=lambda d: d["id"])
    print(f"  written {len(written)}, teleantifraud turn-annotated {len(taf)}")
    relabel = apply_v2_relabel(pool)
    print(f"  guide v2.0 re-labelling: {relabel}")
    pool = [Dialogue.model_validate(d).to_dict() for d in pool]
    pool, near_ood = remove_near_ood(pool)
    print(f"  left out as near an OOD test dialogue (5-gram Jaccard >= {GROUP}): {near_ood}")
    texts = [dialogue_text(d) for d in pool]
    drop_clusters = clusters(len(pool), similar_pairs(texts, DROP))
    largest = max(len(c) for c in drop_clusters)
    kept_idx = sorted(min(c) for c in drop_clusters)
    print(f"  near-duplicates (5-gram Jaccard >= {DROP}): largest cluster {largest}, dropped {len(pool) - len(kept_idx)}")
    dropped_dups = len(pool) - len(kept_idx)
    pool = [pool[i] for i in kept_idx]
    texts = [texts[i] for i in kept_idx]
    groups = [[pool[i] for i in c] for c in clusters(len(pool), similar_pairs(texts, GROUP))]
    print(f"  similarity groups (>= {GROUP}): {len(groups)}, largest {max(len(g) for g in groups)}")

    refreeze = migrate_v1_test_lock()
    lock = json.loads(LOCK.read_text()) if LOCK.exists() else None
    splits = split_groups(groups, previous_splits(), grow_test=lock is None)
    if lock:
        ids = {d["id"] for d in splits["test"]}
        if ids != set(lock["ids"]):
            raise SystemExit("the frozen test split would change its dialogues; restore datasets/ from git")
    for name in SPLITS:
        splits[name].sort(key=lambda d: d["id"])
        write_jsonl(split_path(name), splits[name])
    if lock:
        if checksum(split_path("test")) != lock["sha256"]:
            raise SystemExit("the frozen test split changed; restore datasets/gold/test.jsonl from git")
    elif freeze or refreeze:
        LOCK.write_text(json.dumps({"version": 2, "guide": "2.0", "sha256": checksum(split_path("test")),
                                    "ids": [d["id"] for d in splits["test"]]}, indent=1) + "\n")
    cross = cross_split_pairs(splits)
    print(f"  cross-split pairs with 5-gram Jaccard >= {GROUP}: {cross}")

    print("silver set")
    silver, report = build_silver(pool)
    write_jsonl(SILVER_FILE, silver, compress=True)
    print("  " + ", ".join(f"{k} {v}" for k, v in report.items()))
    build_report = {"drop_threshold": DROP, "group_threshold": GROUP, "largest_near_duplicate_cluster": largest,
                    "dropped_near_duplicates": dropped_dups, "left_out_near_ood": near_ood, "relabel_v2": relabel,
                    "cross_split_pairs": cross, "distinct_5gram_share": round(distinct_ngram_share(texts), 4),
                    "silver": report, "test_sha256": checksum(split_path("test"))}
    (GOLD_DIR / "build_report.json").write_text(json.dumps(build_report, indent=2) + "\n")
    from analyzer.corpus.stats import main as stats_main
    stats_main()


def cross_split_pairs(splits: dict[str, list[dict]]) -> int:
    rows = [(name, d) for name in SPLITS for d in splits[name]]
    pairs = similar_pairs([dialogue_text(d) for _, d in rows], GROUP)
    return sum(rows[i][0] != rows[j][0] for i, j, _ in pairs)
