"""Inter-annotator agreement: Cohen's kappa per tactic over turns, and exact turn-level agreement."""
from __future__ import annotations

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
