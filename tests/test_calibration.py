import numpy as np
import pytest

from analyzer.evaluation.metrics import dialogue_metrics
from analyzer.model.calibration import (fit_alert_threshold, fit_scam_threshold, fit_tactic_thresholds,
                                        fit_temperature, rescale)


def test_alert_threshold_allows_at_most_the_target_share_of_benign_alerts():
    benign = [[0.1, 0.2], [0.3, 0.97], [0.5], [0.99, 0.2]] + [[0.05]] * 96  # 100 benign calls
    scams = [[0.2, 0.995], [0.999]]
    risks, labels = benign + scams, [0] * 100 + [1] * 2
    t = fit_alert_threshold(risks, labels, max_benign_alert_rate=0.01)  # one benign alert allowed
    assert 0.97 < t <= 0.9701
    assert sum(max(r) >= t for r in benign) == 1 and all(max(r) >= t for r in scams)


def test_scam_threshold_respects_lookalike_fpr():
    probs = [0.55, 0.62, 0.1, 0.2, 0.9, 0.95]
    labels = [0, 0, 0, 0, 1, 1]
    look = [True, True, True, True, False, False]
    assert fit_scam_threshold(probs, labels, look, max_lookalike_fpr=0.25) == pytest.approx(0.56)
    assert fit_scam_threshold(probs, labels, look, max_lookalike_fpr=0.5) == 0.5


def test_temperature_sharpens_underconfident_scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    probs = np.where(y == 1, 0.7, 0.3)  # right but underconfident
    t = fit_temperature(probs, y)
    assert t < 1.0 and rescale([0.7], t)[0] > 0.7


def test_tactic_thresholds_maximise_f1():
    gold = [["lure"], [], ["lure"], []]
    probs = [{"lure": 0.3}, {"lure": 0.2}, {"lure": 0.35}, {"lure": 0.1}]
    probs = [{**p, **{t: 0.0 for t in ("impersonation", "info_leverage", "pretext", "urgency", "threat", "isolation",
                                         "guided_operation", "fake_insurance", "sensitive_info", "transfer")}} for p in probs]
    assert 0.2 < fit_tactic_thresholds(gold, probs)["lure"] <= 0.3


def test_decisions_override_threshold():
    m = dialogue_metrics([1, 0], [0.4, 0.6], decisions=[True, False])
    assert m["f1"] == 1.0 and m["fpr"] == 0.0
