import numpy as np
import pytest
from sklearn import metrics as skm

from analyzer import metrics as M


@pytest.fixture
def scores():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    prob = np.clip(y * 0.35 + rng.random(300) * 0.65, 0, 1).round(2)  # with ties
    return y, prob


def test_against_sklearn(scores):
    y, prob = scores
    d = M.dialogue_metrics(y, prob, 0.5)
    pred = (prob >= 0.5).astype(int)
    assert d["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert d["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert d["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert d["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert d["auroc"] == pytest.approx(skm.roc_auc_score(y, prob))
    assert d["auprc"] == pytest.approx(skm.average_precision_score(y, prob))
    assert d["brier"] == pytest.approx(skm.brier_score_loss(y, prob))


def test_hand_computed_dialogue_case():
    y = [1, 1, 0, 0, 0]
    prob = [0.9, 0.4, 0.6, 0.1, 0.2]
    d = M.dialogue_metrics(y, prob, 0.5, lookalike=[False, False, True, True, False])
    assert (d["tp"], d["fp"], d["fn"], d["tn"]) == (1, 1, 1, 2)
    assert d["fpr"] == pytest.approx(1 / 3) and d["fpr_lookalike"] == pytest.approx(0.5)
    # ECE by hand: bins 0.9 (acc 1), 0.4 (acc 1), 0.6 (acc 0), 0.1 (acc 0), 0.2 (acc 0)
    assert d["ece"] == pytest.approx((0.1 + 0.6 + 0.6 + 0.1 + 0.2) / 5)


def test_turn_metrics_hand_computed():
    gold = [["lure"], ["lure", "threat"], [], ["threat"]]
    pred = [["lure"], ["lure"], ["threat"], ["threat"]]
    t = M.turn_metrics(gold, pred, tactics=("lure", "threat"))
    # lure: tp 2; threat: tp 1, fp 1, fn 1
    assert t["per_tactic"]["lure"]["f1"] == 1.0
    assert t["per_tactic"]["threat"]["f1"] == pytest.approx(0.5)
    assert t["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert t["macro_f1"] == pytest.approx(0.75)


def test_turn_micro_against_sklearn():
    from sklearn.preprocessing import MultiLabelBinarizer
    gold = [["lure"], ["lure", "threat"], [], ["threat", "transfer"], ["transfer"]]
    pred = [["lure"], [], ["threat"], ["threat"], ["transfer", "lure"]]
    tactics = ("lure", "threat", "transfer")
    mlb = MultiLabelBinarizer(classes=tactics)
    g, p = mlb.fit_transform(gold), mlb.transform(pred)
    t = M.turn_metrics(gold, pred, tactics=tactics)
    assert t["micro_f1"] == pytest.approx(skm.f1_score(g, p, average="micro"))
    assert t["macro_f1"] == pytest.approx(skm.f1_score(g, p, average="macro"))


def test_early_warning():
    tactics = [[[], ["sensitive_info"], []], [[], [], ["transfer"]], [[], []]]
    e = M.early_warning([1, None, 1], tactics)
    assert e["n_with_harm_turn"] == 2 and e["alert_before_harm_rate"] == pytest.approx(1 / 2)  # no harm turn: not counted
    assert e["alerted_rate"] == pytest.approx(2 / 3)
    assert e["median_turns_to_alert"] == 2.0 and e["within_three_turns_rate"] == pytest.approx(2 / 3)


def test_empty_denominators_are_none_not_zero():
    assert M.early_warning([], [])["alert_before_harm_rate"] is None
    scams_only = M.dialogue_metrics([1, 1], [0.9, 0.2], lookalike=[False, False])
    assert scams_only["fpr"] is None and scams_only["fpr_lookalike"] is None and scams_only["auroc"] is None
    assert M.turn_metrics([[], []], [["lure"], []])["micro_f1"] is None


def test_erde_and_latency_weighted_f1():
    labels = [1, 1, 0, 0]
    early, late = [0, 1, None, None], [30, 60, None, None]
    assert M.erde(early, labels, o=5) < M.erde(late, labels, o=5)
    assert M.erde([None, None, None, None], labels, o=5) == pytest.approx(0.5)  # two misses cost 1 each
    # true alerts at turn 1 cost 1 - 1/(1 + e^(1-5)) = 0.018 each; false alerts cost the positive share 0.5
    assert M.erde([0, 0, 0, 0], labels, o=5) == pytest.approx((0.018 * 2 + 0.5 * 2) / 4, abs=1e-3)
    assert M.latency_weighted_f1(early, labels) > M.latency_weighted_f1(late, labels) > 0
