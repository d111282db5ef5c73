"""`python -m analyzer train` end to end on a few dialogues: a loadable, calibrated folder with its record."""
import json

import pytest

from analyzer.api import Analyzer


@pytest.mark.slow
def test_train_writes_a_calibrated_loadable_folder(run_cli, tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "model"
    result = run_cli("train", "--output", out, "--layers", "1", "--epochs", "2", "--limit", "16", "--threads", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    meta = json.loads((out / "training_args.json").read_text())
    epochs = [row for row in meta["loss_log"] if "selection_tactic_f1" in row]
    assert [row["epoch"] for row in epochs] == [1, 2]
    best = max(epochs, key=lambda row: row["selection_tactic_f1"])["epoch"]
    assert meta["best_epoch"] == best
    assert meta["command"].startswith("python -m analyzer train --output")
    config = json.loads((out / "config.json").read_text())
    assert 0.0 <= config["lexical_weight"] <= 1.0 and config["lexical_weight"] == meta["lexical"]["lexical_weight"]
    assert set(config["decision"]["tactic_thresholds"]) == set(config["tactic_ids"])
    assert (out / "lexical.safetensors").exists() and (out / "lexical_vocab.json").exists()
    prediction = Analyzer.from_pretrained(out).analyze(
        {"id": "t", "turns": [{"speaker": "客服", "text": "您好，请把验证码报给我"}, {"speaker": "我", "text": "好的"}]})
    assert len(prediction.turns) == 2 and 0.0 <= prediction.turns[-1].risk <= 1.0
