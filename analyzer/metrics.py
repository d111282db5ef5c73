"""Every metric the project reports, on scikit-learn: model training, corpus checks and evaluation all use these.

A metric whose denominator is empty (no scams, no look-alikes, no gold tactics) is None, reported as "n/a",
never 0.0.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_fscore_support, roc_auc_score
from sklearn.preprocessing import MultiLabelBinarizer

from analyzer.taxonomy import HARM_TACTICS, TACTIC_IDS


def _both_classes(y: np.ndarray) -> bool:
    return 0 < y.sum() < len(y)


def auroc(y: Sequence[int], score: Sequence[float]) -> Optional[float]:
    y = np.asarray(y)
    return float(roc_auc_score(y, score)) if _both_classes(y) else None


def average_precision(y: Sequence[int], score: Sequence[float]) -> Optional[float]:
    y = np.asarray(y)
    return float(average_precision_score(y, score)) if y.sum() else None


def _bins(prob: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    edges = np.linspace(0, 1, bins + 1)
    return edges, np.clip(np.digitize(prob, edges[1:-1], right=True), 0, bins - 1)


def reliability(y: Sequence[int], prob: Sequence[float], bins: int = 10) -> list[dict]:
    """Per equal-width bin: its count, mean confidence and observed scam rate (None where the bin is empty)."""
    y, prob = np.asarray(y, dtype=float), np.asarray(prob, dtype=float)
    edges, index = _bins(prob, bins)
    return [{"bin": [float(edges[b]), float(edges[b + 1])], "count": int((index == b).sum()),
             "confidence": float(prob[index == b].mean()) if (index == b).any() else None,
             "accuracy": float(y[index == b].mean()) if (index == b).any() else None} for b in range(bins)]


def expected_calibration_error(y: Sequence[int], prob: Sequence[float], bins: int = 10) -> Optional[float]:
    rows = [r for r in reliability(y, prob, bins) if r["count"]]
    total = sum(r["count"] for r in rows)
    return float(sum(r["count"] / total * abs(r["confidence"] - r["accuracy"]) for r in rows)) if total else None


def _ratio(num: float, den: float) -> Optional[float]:
    return float(num / den) if den else None


def dialogue_metrics(y: Sequence[int], prob: Sequence[float], threshold: float = 0.5,
                     lookalike: Optional[Sequence[bool]] = None, decisions: Optional[Sequence[bool]] = None) -> dict:
    """Scam detection: y 1 = scam; lookalike marks benign look-alikes for their own false-positive rate.

    `decisions` (the system's own is_scam) overrides `prob >= threshold` for the thresholded metrics. The guard
    metrics (non-fraud recall, balanced accuracy, predicted-fraud ratio) catch an "everything is fraud" system.
    """
    y, prob = np.asarray(y, dtype=int), np.asarray(prob, dtype=float)
    pred = (np.asarray(decisions) if decisions is not None else prob >= threshold).astype(int)
    tp, fp = int(((pred == 1) & (y == 1)).sum()), int(((pred == 1) & (y == 0)).sum())
    fn, tn = int(((pred == 0) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    non_fraud_recall = _ratio(tn, tn + fp)
    out = {"n": int(len(y)), "precision": precision, "recall": recall, "f1": f1,
           "accuracy": _ratio(tp + tn, len(y)), "fpr": _ratio(fp, fp + tn),
           "non_fraud_recall": non_fraud_recall,
           "balanced_accuracy": (recall + non_fraud_recall) / 2 if None not in (recall, non_fraud_recall) else None,
           "predicted_fraud_ratio": _ratio(tp + fp, len(y)),
           "auroc": auroc(y, prob), "auprc": average_precision(y, prob),
           "brier": float(brier_score_loss(y, prob)) if len(y) else None,
           "ece": expected_calibration_error(y, prob), "tp": tp, "fp": fp, "fn": fn, "tn": tn}
    if lookalike is not None:
        mask = np.asarray(lookalike, dtype=bool) & (y == 0)
        out["fpr_lookalike"] = float(pred[mask].mean()) if mask.any() else None
        out["n_lookalike"] = int(mask.sum())
    return out


def turn_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], tactics=TACTIC_IDS) -> dict:
    """Multi-label tagging: micro- and macro-F1 and per-tactic precision/recall/F1 over turns.

    Macro-F1 averages the tactics that occur in the gold turns or the predictions; with no gold tactic at all the
    F1 scores are None.
    """
    binarizer = MultiLabelBinarizer(classes=list(tactics))
    y_true, y_pred = binarizer.fit_transform(gold), binarizer.transform(predicted)
    support = y_true.sum(0)
    if not len(gold) or not support.sum():
        return {"n_turns": len(gold), "micro_precision": None, "micro_recall": None, "micro_f1": None,
                "macro_f1": None, "per_tactic": {}}
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    micro = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0)
    present = (support + y_pred.sum(0)) > 0
    per = {t: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]), "support": int(support[k])}
           for k, t in enumerate(tactics)}
    return {"n_turns": len(gold), "micro_precision": float(micro[0]), "micro_recall": float(micro[1]),
            "micro_f1": float(micro[2]), "macro_f1": float(f[present].mean()), "per_tactic": per}


def first_harm_turn(gold_turn_tactics: Sequence[Sequence[str]]) -> Optional[int]:
    return next((i for i, t in enumerate(gold_turn_tactics) if HARM_TACTICS & set(t)), None)


def early_warning(alert_turns: Sequence[Optional[int]], gold_turn_tactics: Sequence[Sequence[Sequence[str]]]) -> dict:
    """For scams: alerts at or before the first sensitive_info/transfer turn, turns to alert, within three turns.

    Only scams with a gold harm turn count for alert-before-harm; the others count for the alerted rate only.
    """
    n = len(alert_turns)
    in_time, with_harm, within3, turns_to_alert = 0, 0, 0, []
    for alert, tactics in zip(alert_turns, gold_turn_tactics):
        harm = first_harm_turn(tactics)
        if harm is not None:
            with_harm += 1
            in_time += alert is not None and alert <= harm
        if alert is not None:
            turns_to_alert.append(alert + 1)
            within3 += alert <= 2
    return {"n_scams": n, "n_with_harm_turn": with_harm, "alert_before_harm_rate": _ratio(in_time, with_harm),
            "alerted_rate": _ratio(len(turns_to_alert), n), "within_three_turns_rate": _ratio(within3, n),
            "median_turns_to_alert": float(np.median(turns_to_alert)) if turns_to_alert else None}


def erde(alert_turns: Sequence[Optional[int]], labels: Sequence[int], o: int, c_fp: Optional[float] = None) -> Optional[float]:
    """Early risk detection error (Losada and Crestani, eRisk): a late true alert costs 1 - 1/(1 + e^(k - o)),
    k the number of turns read (1-based); a false alert costs c_fp (the share of positives), a miss costs 1."""
    labels = np.asarray(labels)
    if not len(labels):
        return None
    c_fp = float(labels.mean()) if c_fp is None else c_fp
    costs = []
    for alert, y in zip(alert_turns, labels):
        if alert is None:
            costs.append(1.0 if y else 0.0)
        elif not y:
            costs.append(c_fp)
        else:
            k = alert + 1
            costs.append(1.0 - 1.0 / (1.0 + np.exp(min(50.0, k - o))))
    return float(np.mean(costs))


def latency_weighted_f1(alert_turns: Sequence[Optional[int]], labels: Sequence[int], p: float = 0.0078) -> Optional[float]:
    """F1 times the median speed over true alerts (Sadeque et al.): speed = 1 - penalty(k), penalty(k) =
    -1 + 2 / (1 + e^(-p (k - 1)))."""
    labels = np.asarray(labels)
    pred = np.array([a is not None for a in alert_turns], dtype=int)
    tp, fp, fn = int(((pred == 1) & (labels == 1)).sum()), int(((pred == 1) & (labels == 0)).sum()), \
        int(((pred == 0) & (labels == 1)).sum())
    if not tp:
        return 0.0 if (fp or fn) else None
    f1 = 2 * tp / (2 * tp + fp + fn)
    ks = [a + 1 for a, y in zip(alert_turns, labels) if a is not None and y]
    speed = 1 - float(np.median([-1 + 2 / (1 + np.exp(-p * (k - 1))) for k in ks]))
    return f1 * speed
