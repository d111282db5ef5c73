"""The model card: OOD figures first beside the TF-IDF, targets marked, shortfalls named."""
import json

import analyzer.release.card as card


def system(recall, fpr, micro, ece=0.03, drops=0.01):
    keys = {"dialogue.recall": recall, "dialogue.fpr_lookalike": fpr, "turn.micro_f1": micro, "turn.macro_f1": 0.72,
            "early.alert_before_harm_rate": 0.93, "dialogue.ece": ece, "dialogue.f1": 0.98,
            **{f"robustness.{p}.f1_drop": drops for p in card.PERTURBATIONS}}
    return {"keys": keys, "dialogue_detection": {"ci95": {"recall": [recall - 0.02, recall + 0.02]}}}


def test_card_marks_targets_beats_and_shortfalls(tmp_path):
    results = {"ood/unseen_types": {"model": system(0.95, 0.02, 0.78), "tfidf": system(0.90, 0.05, 0.60)},
               "ood/wild": {"model": system(0.88, 0.02, 0.70), "tfidf": system(0.91, 0.04, 0.62)},
               "test": {"model": system(0.99, 0.01, 0.85), "tfidf": system(0.97, 0.02, 0.74)}}
    (tmp_path / "training_args.json").write_text(json.dumps(
        {"command": "python -m analyzer train", "seed": 13, "epochs": 6, "steps": 900, "seconds": 1800,
         "best_epoch": 5, "train_dialogues": 1000, "selection_fold": {"dialogues": 160, "scam_types": ["romance"],
                                                                      "benign_types": ["school"]},
         "calibration": {"verdict": {"chosen": "tactics", "options": {"tactics": {"auroc": 0.97,
                                                                                 "recall_at_3pct_fpr": 0.9}}}}}))
    (tmp_path / "config.json").write_text(json.dumps(
        {"encoder": {"num_hidden_layers": 6, "vocab_size": 12692}, "lexical_weight": 0.4,
         "decision": {"alert_threshold": 0.62}}))
    card.write_card(tmp_path, results)
    text = (tmp_path / "README.md").read_text()
    assert "| dialogue.recall | >= 0.92 | 0.950 [0.930, 0.970] ✓ (≥ TF-IDF) | 0.900 [0.880, 0.920] |" in text
    assert "- ood/wild dialogue.recall 0.880 (target >= 0.92)" in text
    assert "- ood/wild dialogue.recall: below the TF-IDF (0.880 < 0.910)" in text
    assert "Chosen: tactics; alert threshold 0.62" in text and "romance" in text
    assert json.loads((tmp_path / "eval_results.json").read_text())["ood/wild"]["model"]["keys"]["turn.micro_f1"] == 0.70
