"""Inter-annotator agreement: Cohen's kappa per tactic over turns, exact turn agreement, dialogue-label agreement.

Two studies, both reproducible with `python -m analyzer corpus agreement` (saved to datasets/agreement.json):
- v1 (raw/agreement/): second readers of 160 v1 dialogues, with the adjudications the build applies;
- v2 (raw/agreement_v2/): a blind study of 220 gold v2 dialogues. The sample carries anonymous ids and no labels
  (`key.json` maps them back); readers B and C, who wrote none of the corpus, labelled it independently under guide
  v2.0. Kappa is reported for every pair of the three annotations (gold, B, C);
- OOD second readings (raw/ood/second_reading/): a blind reader of each frozen OOD set against its writers' labels.
"""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

from analyzer.corpus import gold_tactics, iter_jsonl
from analyzer.paths import DATASETS_DIR
from analyzer.taxonomy import TACTIC_IDS

RAW = DATASETS_DIR / "raw"
V2_DIR = RAW / "agreement_v2"
V2_READERS = ("reader_b", "reader_c")
OOD_READING_DIR = RAW / "ood" / "second_reading"


def cohen_kappa(a: list[int], b: list[int]) -> float | None:
    """scikit-learn's kappa; None where it is undefined (no items, or both annotators constant and equal)."""
    from sklearn.metrics import cohen_kappa_score

    if not a or len(set(a) | set(b)) < 2:
        return None
    return float(cohen_kappa_score(a, b))


def agreement(first: dict[str, list[list[str]]], second: dict[str, list[list[str]]]) -> dict:
    """Both maps: dialogue id -> per-turn tactic lists. Only dialogues in both count."""
    ids = sorted(set(first) & set(second))
    pairs = [(set(x), set(y)) for i in ids for x, y in zip(first[i], second[i], strict=True)]
    per_tactic = {}
    for tactic in TACTIC_IDS:
        a = [int(tactic in x) for x, _ in pairs]
        b = [int(tactic in y) for _, y in pairs]
        kappa = cohen_kappa(a, b)
        per_tactic[tactic] = {"kappa": None if kappa is None else round(kappa, 3), "first": sum(a), "second": sum(b)}
    kappas = [v["kappa"] for v in per_tactic.values() if v["kappa"] is not None]
    return {"dialogues": len(ids), "turns": len(pairs),
            "turn_exact_agreement": round(sum(x == y for x, y in pairs) / len(pairs), 4) if pairs else None,
            "mean_kappa": round(sum(kappas) / len(kappas), 3) if kappas else None, "per_tactic": per_tactic}


def label_agreement(first: dict[str, str], second: dict[str, str]) -> dict:
    ids = sorted(set(first) & set(second))
    a, b = [int(first[i] == "scam") for i in ids], [int(second[i] == "scam") for i in ids]
    kappa = cohen_kappa(a, b)
    return {"dialogues": len(ids), "agreement": round(sum(x == y for x, y in zip(a, b)) / len(ids), 4) if ids else None,
            "kappa": None if kappa is None else round(kappa, 3)}


def resolved_toward(decisions: list[tuple[list, list, list]], sides: tuple[str, str]) -> dict[str, int]:
    """How adjudications (final, one side's labels, the other's) came out: toward either side or neither."""
    toward = {sides[0]: 0, sides[1]: 0, "neither": 0}
    for final, one, other in decisions:
        toward[sides[0] if set(final) == set(one) else sides[1] if set(final) == set(other) else "neither"] += 1
    return toward


def _rows(path: Path) -> list[dict]:
    return list(iter_jsonl(path))


def study_v1() -> dict:
    """The v1 study: first labels (TeleAntiFraud annotators, writers) against the second readers, and how the
    adjudication resolved the disagreements."""
    first, second = {}, {}
    for part in ("a", "b"):
        first.update({r["id"]: r["tactics"] for r in _rows(RAW / "teleantifraud" / f"tactics_{part}.jsonl")})
    for path in sorted((RAW / "written").glob("*.jsonl")):
        first.update({r["id"]: gold_tactics(r) for r in _rows(path)})
    for name in ("taf_second_tactics.jsonl", "written_second_tactics.jsonl"):
        second.update({r["id"]: r["tactics"] for r in _rows(RAW / "agreement" / name)})
    first = {k: first[k] for k in second}
    adjudicated = {(r["id"], r["turn"]): r for name in ("taf_adjudicated.jsonl", "written_adjudicated.jsonl")
                   if (RAW / "agreement" / name).exists() for r in _rows(RAW / "agreement" / name)}
    taf = {k for k in second if k.startswith("taf-")}
    report = {"all": agreement(first, second),
              "teleantifraud": agreement({k: first[k] for k in taf}, {k: second[k] for k in taf}),
              "written": agreement({k: v for k, v in first.items() if k not in taf},
                                   {k: v for k, v in second.items() if k not in taf})}
    toward = resolved_toward([(row["tactics"], first[did][turn], second[did][turn])
                              for (did, turn), row in adjudicated.items()], ("first", "second"))
    report["adjudication"] = {"turns_adjudicated": len(adjudicated), "resolved_toward": toward}
    return report


def blind_study(key: dict[str, str], first: dict[str, dict], readers: dict[str, dict[str, dict]],
                first_name: str = "gold") -> dict:
    """Agreement of every pair among the first labels and each blind reader. `key` maps the anonymous ids the
    readers saw to real ids; `first` holds the labelled dialogues by real id; `readers` maps a name to its rows."""
    first = {anon: first[real] for anon, real in key.items() if real in first}
    annotations = {first_name: ({i: gold_tactics(d) for i, d in first.items()}, {i: d["label"] for i, d in first.items()})}
    for name, rows in readers.items():
        rows = {i: r for i, r in rows.items() if i in first and len(r["tactics"]) == len(first[i]["turns"])}
        annotations[name] = ({i: r["tactics"] for i, r in rows.items()}, {i: r["label"] for i, r in rows.items()})
    pairs = {}
    for a, b in combinations(annotations, 2):
        report = agreement(annotations[a][0], annotations[b][0])
        report["dialogue_label"] = label_agreement(annotations[a][1], annotations[b][1])
        pairs[f"{a}~{b}"] = report
    mean_per_tactic = {}
    for tactic in TACTIC_IDS:
        values = [p["per_tactic"][tactic]["kappa"] for p in pairs.values() if p["per_tactic"][tactic]["kappa"] is not None]
        mean_per_tactic[tactic] = round(sum(values) / len(values), 3) if values else None
    return {"sample": len(key), "found": len(first), "readers": sorted(readers), "pairs": pairs,
            "mean_pairwise_kappa_per_tactic": mean_per_tactic}


def _readers(folder: Path, names: dict[str, str]) -> dict[str, dict[str, dict]]:
    """Reader name -> rows by id, for the reader files (name -> file name) that exist."""
    return {name: {r["id"]: r for r in _rows(folder / file)} for name, file in names.items() if (folder / file).exists()}


def study_v2() -> dict | None:
    """The blind v2 study: gold against each reader and the readers against each other; None before any reader."""
    readers = _readers(V2_DIR, {name: f"{name}.jsonl" for name in V2_READERS})
    if not readers:
        return None
    from analyzer.corpus import load_split

    key = json.loads((V2_DIR / "key.json").read_text(encoding="utf-8"))
    gold = {d["id"]: d for split in ("train", "dev", "test") for d in load_split(split)}
    adjudicated = _rows(V2_DIR / "adjudicated.jsonl") if (V2_DIR / "adjudicated.jsonl").exists() else []
    for row in adjudicated:  # score the labels as they were before the adjudication moved them (relabel r6)
        d = gold[key[row["sample_id"]]]
        d["turns"][row["turn"]]["tactics"] = list(row["first"])
    report = blind_study(key, gold, readers)
    toward = resolved_toward([(row["final"], row["first"], row["readers"]) for row in adjudicated], ("first", "readers"))
    report["adjudication"] = {"turns_adjudicated": len(adjudicated), "resolved_toward": toward}
    return report


def study_ood() -> dict:
    """Second readings of the frozen OOD sets against the writers' labels (the sets themselves never change)."""
    from analyzer.corpus import OOD_NAMES, load_split

    out = {}
    for name in OOD_NAMES:
        short = name.removeprefix("ood/")
        readers = _readers(OOD_READING_DIR, {"second_reader": f"{short}.reader.jsonl"})
        if readers:
            key = json.loads((OOD_READING_DIR / f"{short}.key.json").read_text(encoding="utf-8"))
            out[name] = blind_study(key, {d["id"]: d for d in load_split(name)}, readers, first_name="writer")
    return out


def main(write: bool = True) -> dict:
    """Print and save both studies (datasets/agreement.json)."""
    report = {**study_v1(), "v2_blind": study_v2(), "ood_second_reading": study_ood()}
    if write:
        (DATASETS_DIR / "agreement.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(json.dumps(report, indent=2, ensure_ascii=False))
    return report
