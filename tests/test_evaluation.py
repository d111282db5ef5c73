import json

import pytest

from analyzer.evaluation.perturb import PERTURBATIONS, perturb
from analyzer.evaluation.tasks import load_tasks

DIALOGUE = {"id": "p", "label": "scam", "turns": [
    {"speaker": "客服", "text": "请把验证码和银行卡号告诉我，然后转账到安全账户", "tactics": ["sensitive_info", "transfer"]},
    {"speaker": "用户", "text": "好的，我现在说话", "tactics": []}]}


def test_tasks_declared_as_data():
    tasks = {t.task: t for t in load_tasks()}
    assert {"dialogue_detection", "turn_tagging", "early_warning", "robustness", "explanation_faithfulness"} <= set(tasks)
    assert all(len(t.config_sha256) == 64 for t in tasks.values())
    with pytest.raises(ValueError, match="unknown task"):
        load_tasks(["nope"])


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_perturbations_change_and_are_seeded(name):
    a = perturb([DIALOGUE], name, seed=1)
    b = perturb([DIALOGUE], name, seed=1)
    assert a == b
    assert a[0] != DIALOGUE
    assert DIALOGUE["turns"][0]["text"].startswith("请把验证码")  # the input is not modified


def test_eval_command_writes_report(run_cli, tmp_path):
    out = tmp_path / "eval"
    done = run_cli("eval", "--data", "test", "--model", "rules", "--baselines", "keyword", "--limit", "30",
                   "--tasks", "dialogue_detection,turn_tagging,early_warning,explanation_faithfulness", "-o", out)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("dialogue.f1", "dialogue.precision", "dialogue.recall", "dialogue.fpr", "dialogue.auroc",
                "dialogue.ece", "turn.micro_f1", "turn.macro_f1", "turn.per_tactic.lure.f1",
                "early.alert_before_harm_rate", "early.median_turns_to_alert"):
        assert key in metrics, key
    assert metrics["dataset"]["sha256"] and metrics["code_version"]["package"] and metrics["config"]["seed"] == 0
    assert metrics["systems"]["model"]["n_failed"] == 0
    assert metrics["explanation.verbatim_quote_rate"] == 1.0 and metrics["explanation.cited_turn_validity"] == 1.0
    assert "| model |" in (out / "report.md").read_text()
    assert (out / "reliability.png").stat().st_size > 1000


def test_tfidf_baseline_learns():
    from analyzer.api import Analyzer
    from analyzer.corpus import load_split
    from analyzer.evaluation.tfidf import TfidfBackend
    train = load_split("train")
    analyzer = Analyzer(TfidfBackend().fit(train))
    scam = analyzer.analyze({"id": "s", "turns": [{"speaker": "客服", "text": "您下载腾讯会议共享屏幕，把验证码报给我，钱转到安全账户"}]})
    benign = analyzer.analyze({"id": "b", "turns": [{"speaker": "小王", "text": "妈，我今晚回家吃饭，帮我留点汤哈"}]})
    assert scam.scam_probability > benign.scam_probability


def test_llm_alone_baseline_with_a_fake_model():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from analyzer.api import Analyzer
    from analyzer.evaluation import llm_baseline
    reply = json.dumps({"verdict": "scam", "risk_level": "danger", "confidence": 0.8, "advice": [],
                        "steps": [{"turns": [0], "tactic": "sensitive_info", "quote": "请把验证码和银行卡号告诉我",
                                   "reasoning": "r"}]}, ensure_ascii=False)
    backend = llm_baseline.LLMBackend(FakeListChatModel(responses=[reply]))
    prediction = Analyzer(backend).analyze(DIALOGUE)
    assert prediction.scam_probability == 0.8 and prediction.turns[0].predicted == ["sensitive_info"]
    assert prediction.alert_turn == 1  # it reads the whole call: no early warning
    bad = llm_baseline.LLMBackend(FakeListChatModel(responses=["I cannot help with that."]))
    with pytest.raises(RuntimeError, match="invalid answer"):
        Analyzer(bad).analyze(DIALOGUE)
    with pytest.raises(ValueError, match="needs a configured LLM"):
        llm_baseline.LLMBackend("none")


def test_cross_corpus_one_command(run_cli, tmp_path):
    done = run_cli("eval", "--cross-corpus", "--model", "rules", "--sample", "150", "-o", tmp_path / "x")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "x" / "metrics.json").read_text())
    assert set(metrics["directions"]) == {"gold->silver", "silver->gold"}
    assert metrics["directions"]["gold->silver"]["model"]["n"] == 150
    assert metrics["directions"]["silver->gold"]["tfidf"]["n"] == 200
