"""Fitting what the selection set decides: temperature, tactic thresholds, the monotone verdict, the alert threshold."""
import numpy as np
import pytest

pytest.importorskip("sklearn")

from analyzer.decision import FEATURES, Decision  # noqa: E402
from analyzer.metrics import dialogue_metrics  # noqa: E402
from analyzer.predict import DialogueScores  # noqa: E402
from analyzer.taxonomy import TACTIC_IDS  # noqa: E402
from analyzer.training.calibration import fit_tactic_thresholds, fit_temperature, rescale  # noqa: E402
from analyzer.training.verdict import (compare_options, fit_alert_threshold, fit_monotone_logistic,  # noqa: E402
                                       fit_verdict)

ZERO = {t: 0.0 for t in TACTIC_IDS}


def scores(rows, risk=0.5):
    return DialogueScores([{**ZERO, **r} for r in rows], [risk] * len(rows))


def test_temperature_sharpens_underconfident_scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    probs = np.where(y == 1, 0.7, 0.3)  # right but underconfident
    t = fit_temperature(probs, y)
    assert t < 1.0 and rescale([0.7], t)[0] > 0.7


def test_tactic_thresholds_maximise_f1():
    gold = [["lure"], [], ["lure"], []]
    probs = [{**ZERO, "lure": p} for p in (0.3, 0.2, 0.35, 0.1)]
    assert 0.2 < fit_tactic_thresholds(gold, probs)["lure"] <= 0.3


def test_monotone_logistic_keeps_weights_non_negative():
    rng = np.random.default_rng(1)
    x = rng.random((200, 3))
    y = (x[:, 0] - x[:, 1] + 0.1 * rng.standard_normal(200) > 0).astype(int)  # feature 1 hurts: its weight is 0
    bias, weights = fit_monotone_logistic(x, y)
    assert weights.min() >= 0.0 and weights[0] > 1.0 and weights[1] == pytest.approx(0.0, abs=1e-6)


def make_calls(n=40):
    rng = np.random.default_rng(2)
    calls, rows = [], []
    for i in range(n):
        scam = i % 2 == 0
        kind = f"type{i % 8}"
        hi = rng.uniform(0.6, 0.95) if scam else rng.uniform(0.0, 0.3)
        calls.append({"label": "scam" if scam else "benign", "scam_type": kind if scam else None,
                      "meta": {} if scam else {"benign_type": kind}})
        rows.append(scores([{"impersonation": hi}, {"sensitive_info": hi}], risk=rng.uniform(0.2, 0.8)))
    return calls, rows


def test_verdict_is_fitted_on_tactics_and_alerts_stay_rare_on_benign_calls():
    calls, rows = make_calls()
    report = compare_options(calls, rows, folds=4)
    assert report["tactics"]["auroc"] > report["context"]["auroc"]  # the context risk here is noise
    decision, fit = fit_verdict(Decision(tactic_thresholds={t: 0.5 for t in TACTIC_IDS}), calls, rows)
    assert fit["chosen"] in ("tactics", "tactics+context") and set(decision.verdict_weights) <= set(FEATURES)
    threshold = fit_alert_threshold(decision, calls, rows, max_false_alarms=0.0)
    assert threshold >= 0.5


def test_decisions_override_threshold():
    m = dialogue_metrics([1, 0], [0.4, 0.6], decisions=[True, False])
    assert m["f1"] == 1.0 and m["fpr"] == 0.0
