"""The model card: figures from the evaluation, targets marked, unmet targets named with what limits them."""
import json

import analyzer.release.card as card


def fake_eval(model_dir, data, sample=0):
    keys = {"dialogue.f1": 0.99, "dialogue.fpr_lookalike": 0.012, "dialogue.ece": 0.014, "turn.micro_f1": 0.799,
            "turn.macro_f1": 0.793, "early.alert_before_harm_rate": 0.971, "turn.per_tactic.lure.f1": 0.8}
    return {"keys": keys, "turn_tagging": {"ci95": {"micro_f1": [0.773, 0.824]}}}


def test_card_marks_targets_and_names_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(card, "_eval", fake_eval)
    (tmp_path / "training_args.json").write_text(json.dumps(
        {"command": "python -m analyzer train --epochs 8", "seed": 13, "epochs": 8, "steps": 1454, "seconds": 3472,
         "best_epoch": 6, "train_dialogues": 940, "silver_dialogues": 0, "dev_dialogues": 199}))
    (tmp_path / "config.json").write_text(json.dumps(
        {"encoder": {"num_hidden_layers": 6, "vocab_size": 12692}, "risk_temperature": 1.05, "lexical_weight": 0.4,
         "decision": {"alert_threshold": 0.96}}))
    card.write_card(tmp_path, silver_limit=0)
    text = (tmp_path / "README.md").read_text()
    assert "| turn.micro_f1 | >= 0.85 | 0.799 | 0.799 ✗ | [0.773, 0.824] |" in text
    assert "| dialogue.fpr_lookalike | <= 0.03 | 0.012 | 0.012 ✓ |" in text
    assert "weight 0.4" in text and "weights of epoch 6" in text
    assert "Targets not met on test: turn.micro_f1 0.799 (target >= 0.85)." in text
    assert "What limits turn tagging" in text and "58 minutes on 2 cores, 6 encoder layers" in text
    assert json.loads((tmp_path / "eval_results.json").read_text())["test"]["keys"]["turn.micro_f1"] == 0.799
