"""Inter-annotator agreement: Cohen's kappa per tactic over turns, and exact turn-level agreement."""
from __future__ import annotations

from analyzer.corpus import gold_tactics

from analyzer.taxonomy import TACTIC_IDS


def cohen_kappa(a: list[int], b: list[int]) -> float | None:
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected == 1.0:
        return None  # neither annotator used the tactic: kappa is undefined
    return (observed - expected) / (1 - expected)


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


def _load_pairs():
    """First and second annotations of the doubly annotated dialogues, from datasets/raw."""
    import json

    from analyzer.paths import DATASETS_DIR

    raw = DATASETS_DIR / "raw"

    def rows(path):
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    first, second = {}, {}
    for part in ("a", "b"):
        first.update({r["id"]: r["tactics"] for r in rows(raw / "teleantifraud" / f"tactics_{part}.jsonl")})
    for path in sorted((raw / "written").glob("*.jsonl")):
        first.update({r["id"]: gold_tactics(r) for r in rows(path)})
    for name in ("taf_second_tactics.jsonl", "written_second_tactics.jsonl"):
        second.update({r["id"]: r["tactics"] for r in rows(raw / "agreement" / name)})
    adjudicated = {}
    for name in ("taf_adjudicated.jsonl", "written_adjudicated.jsonl"):
        path = raw / "agreement" / name
        if path.exists():
            for r in rows(path):
                adjudicated[(r["id"], r["turn"])] = r
    return {k: first[k] for k in second}, second, adjudicated


def main(write: bool = True) -> dict:
    """Print and save the agreement study (datasets/agreement.json)."""
    import json

    from analyzer.paths import DATASETS_DIR

    first, second, adjudicated = _load_pairs()
    taf = {k for k in second if k.startswith("taf-")}
    report = {"all": agreement(first, second),
              "teleantifraud": agreement({k: first[k] for k in taf}, {k: second[k] for k in taf}),
              "written": agreement({k: v for k, v in first.items() if k not in taf},
                                   {k: v for k, v in second.items() if k not in taf})}
    toward = {"first": 0, "second": 0, "neither": 0}
    for (did, turn), row in adjudicated.items():
        final = set(row["tactics"])
        if final == set(first[did][turn]):
            toward["first"] += 1
        elif final == set(second[did][turn]):
            toward["second"] += 1
        else:
            toward["neither"] += 1
    report["adjudication"] = {"turns_adjudicated": len(adjudicated), "resolved_toward": toward}
    if write:
        (DATASETS_DIR / "agreement.json").write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
    return report
