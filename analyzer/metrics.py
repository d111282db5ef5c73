"""Detection, tagging, early-warning and calibration metrics, in plain numpy (tested against scikit-learn)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from analyzer.taxonomy import HARM_TACTICS, TACTIC_IDS


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def auroc(y: Sequence[int], score: Sequence[float]) -> Optional[float]:
    """Area under the ROC curve via the rank statistic (ties get average ranks)."""
    y, score = np.asarray(y), np.asarray(score, dtype=float)
    pos, neg = y.sum(), len(y) - y.sum()
    if pos == 0 or neg == 0:
        return None
    order = score.argsort(kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    i = 0
    while i < len(score):
        j = i
        while j + 1 < len(score) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(y: Sequence[int], score: Sequence[float]) -> Optional[float]:
    """Area under the precision-recall curve as scikit-learn's average_precision_score computes it."""
    y, score = np.asarray(y), np.asarray(score, dtype=float)
    if y.sum() == 0:
        return None
    order = np.argsort(-score, kind="mergesort")
    y, score = y[order], score[order]
    distinct = np.r_[np.where(np.diff(score))[0], len(y) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    precision = tps / (tps + fps)
    recall = tps / y.sum()
    recall_prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - recall_prev) * precision))


def expected_calibration_error(y: Sequence[int], prob: Sequence[float], bins: int = 10) -> float:
    y, prob = np.asarray(y, dtype=float), np.asarray(prob, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(prob, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            ece += mask.mean() * abs(prob[mask].mean() - y[mask].mean())
    return float(ece)


def reliability(y: Sequence[int], prob: Sequence[float], bins: int = 10) -> list[dict]:
    y, prob = np.asarray(y, dtype=float), np.asarray(prob, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(prob, edges[1:-1], right=True), 0, bins - 1)
    return [{"bin": [float(edges[b]), float(edges[b + 1])], "count": int((index == b).sum()),
             "confidence": float(prob[index == b].mean()) if (index == b).any() else None,
             "accuracy": float(y[index == b].mean()) if (index == b).any() else None} for b in range(bins)]


def dialogue_metrics(y: Sequence[int], prob: Sequence[float], threshold: float = 0.5,
                     lookalike: Optional[Sequence[bool]] = None, decisions: Optional[Sequence[bool]] = None) -> dict:
    """Scam detection: y 1 = scam; lookalike marks benign look-alikes for their own false-positive rate.

    `decisions` (the system's own is_scam) overrides `prob >= threshold` for the thresholded metrics.
    """
    y, prob = np.asarray(y, dtype=int), np.asarray(prob, dtype=float)
    pred = (np.asarray(decisions) if decisions is not None else prob >= threshold).astype(int)
    tp, fp = int(((pred == 1) & (y == 1)).sum()), int(((pred == 1) & (y == 0)).sum())
    fn, tn = int(((pred == 0) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
    precision, recall, f1 = _prf(tp, fp, fn)
    out = {"n": int(len(y)), "precision": precision, "recall": recall, "f1": f1,
           "accuracy": (tp + tn) / len(y) if len(y) else 0.0, "fpr": fp / (fp + tn) if fp + tn else 0.0,
           "auroc": auroc(y, prob), "auprc": average_precision(y, prob),
           "brier": float(np.mean((prob - y) ** 2)) if len(y) else 0.0,
           "ece": expected_calibration_error(y, prob), "tp": tp, "fp": fp, "fn": fn, "tn": tn}
    if lookalike is not None:
        mask = np.asarray(lookalike, dtype=bool) & (y == 0)
        out["fpr_lookalike"] = float(pred[mask].mean()) if mask.any() else None
        out["n_lookalike"] = int(mask.sum())
    return out


def turn_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], tactics=TACTIC_IDS) -> dict:
    """Multi-label tagging: micro- and macro-F1 and per-tactic precision/recall/F1 over turns."""
    per = {}
    totals = np.zeros(3)
    for tactic in tactics:
        tp = sum(tactic in g and tactic in p for g, p in zip(gold, predicted))
        fp = sum(tactic not in g and tactic in p for g, p in zip(gold, predicted))
        fn = sum(tactic in g and tactic not in p for g, p in zip(gold, predicted))
        precision, recall, f1 = _prf(tp, fp, fn)
        per[tactic] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
        totals += (tp, fp, fn)
    micro = _prf(*totals)
    return {"n_turns": len(gold), "micro_precision": micro[0], "micro_recall": micro[1], "micro_f1": micro[2],
            "macro_f1": float(np.mean([v["f1"] for v in per.values()])), "per_tactic": per}


def first_harm_turn(gold_turn_tactics: Sequence[Sequence[str]]) -> Optional[int]:
    return next((i for i, t in enumerate(gold_turn_tactics) if HARM_TACTICS & set(t)), None)


def early_warning(alert_turns: Sequence[Optional[int]], gold_turn_tactics: Sequence[Sequence[Sequence[str]]]) -> dict:
    """For scams: alerts at or before the first sensitive_info/transfer turn, turns to alert, within three turns.

    A scam without a gold harm turn counts as in time when its alert fires at all.
    """
    n = len(alert_turns)
    in_time, within3, turns_to_alert = 0, 0, []
    for alert, tactics in zip(alert_turns, gold_turn_tactics):
        harm = first_harm_turn(tactics)
        if alert is not None:
            turns_to_alert.append(alert + 1)
            within3 += alert <= 2
            in_time += harm is None or alert <= harm
    return {"n_scams": n, "alert_before_harm_rate": in_time / n if n else 0.0,
            "alerted_rate": len(turns_to_alert) / n if n else 0.0,
            "within_three_turns_rate": within3 / n if n else 0.0,
            "median_turns_to_alert": float(np.median(turns_to_alert)) if turns_to_alert else None}
