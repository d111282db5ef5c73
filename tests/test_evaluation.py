import json

import pytest

from analyzer.evaluation.perturb import PERTURBATIONS, perturb
from analyzer.evaluation.tasks import TaskError, load_tasks

DIALOGUE = {"id": "p", "label": "scam", "turns": [
    {"speaker": "客服", "text": "请把验证码和银行卡号告诉我，然后转账到安全账户", "tactics": ["sensitive_info", "transfer"]},
    {"speaker": "用户", "text": "好的，我现在说话", "tactics": []}]}


def test_tasks_declared_as_data():
    tasks = {t.task: t for t in load_tasks()}
    assert {"dialogue_detection", "turn_tagging", "early_warning", "robustness", "explanation_faithfulness"} <= set(tasks)
    assert all(len(t.config_sha256) == 64 for t in tasks.values())
    with pytest.raises(TaskError, match="unknown task"):
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
    assert metrics["datasets"]["test"]["sha256"] and metrics["code_version"]["package"] and metrics["config"]["seed"] == 0
    assert metrics["systems"]["model"]["n_failed"] == {"test": 0}
    assert metrics["environment"]["python"] and "transformers" in metrics["environment"]
    for key in ("early.erde5", "early.erde50", "early.latency_weighted_f1", "dialogue.balanced_accuracy",
                "dialogue.non_fraud_recall", "dialogue.predicted_fraud_ratio"):
        assert key in metrics, key
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
    from analyzer.corpus import load_split
    assert metrics["directions"]["silver->gold"]["tfidf"]["n"] == len(load_split("test"))


TASK_YAML = """task: my_recall
kind: dialogue
data: {data}
metrics: [recall, fpr]
headline: [recall]
bootstrap: 50
"""


def test_own_task_folder_and_data_outside_the_repo(run_cli, tmp_path):
    from analyzer.corpus import load_split
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in load_split("dev")[:25]))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "mine.yaml").write_text(TASK_YAML.format(data=data))
    out = tmp_path / "out"
    done = run_cli("eval", "--include-path", tasks, "--tasks", "my_recall", "--system", "kw=rules",
                   "--group-by", "scam_type", "--log-samples", "-o", out)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(k for k in metrics if k.startswith("my_recall.")) == {"my_recall.recall", "my_recall.fpr"}
    assert metrics["datasets"][str(data)]["dialogues"] == 25
    assert metrics["systems"]["kw"]["my_recall"]["ci95"]["recall"] is not None
    assert metrics["systems"]["kw"]["my_recall"]["groups"]
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 25 and samples[0]["system"] == "kw" and "prediction" in samples[0]


@pytest.mark.parametrize("body,message", [
    ("task: x\nkind: dialogue\ncolour: red\n", "unknown field"),
    ("task: x\nkind: sideways\n", "unknown kind"),
    ("task: x\nkind: dialogue\nmetrics: [bleu]\n", "no metric"),
])
def test_bad_task_files_name_the_file(run_cli, tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    done = run_cli("eval", "--tasks", path, "--system", "kw=rules", "-o", tmp_path / "o")
    assert done.returncode == 2 and message in done.stderr and "bad.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_system_spec_and_unlabelled_data(run_cli, tmp_path):
    done = run_cli("eval", "--system", "x=/no/such/folder", "--tasks", "dialogue_detection", "--limit", "5",
                   "-o", tmp_path / "o")
    assert done.returncode == 2 and "x=/no/such/folder" in done.stderr
    data = tmp_path / "plain.jsonl"
    data.write_text(json.dumps({"id": "a", "turns": [{"speaker": "A", "text": "你好"}]}, ensure_ascii=False) + "\n")
    done = run_cli("eval", "--data", data, "--tasks", "turn_tagging", "--system", "kw=rules", "-o", tmp_path / "p")
    assert done.returncode == 2 and "no gold turn tactics" in done.stderr


class Broken:
    name = "broken"

    def __init__(self):
        from analyzer.decision import Decision
        self.decision = Decision()

    def score_many(self, dialogues):
        raise ConnectionError("endpoint down")


def make_broken():
    return Broken()


def test_a_system_whose_predictions_all_fail_makes_the_run_fail(run_cli, tmp_path):
    done = run_cli("eval", "--system", "down=python:tests.test_evaluation:make_broken", "--tasks", "dialogue_detection",
                   "--limit", "6", "-o", tmp_path / "o")
    assert done.returncode == 1 and "every prediction failed" in done.stderr
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["failed_systems"] == ["down"] and metrics["dialogue.f1"] is None and metrics["dialogue.fpr"] is None
    assert "Every prediction failed" in (tmp_path / "o" / "report.md").read_text()


@pytest.mark.parametrize("data", ["ood/unseen_types", "ood/wild"])
def test_eval_on_the_ood_sets(run_cli, tmp_path, data):
    out = tmp_path / "o"
    done = run_cli("eval", "--data", data, "--tasks", "dialogue_detection,early_warning", "--system", "kw=rules",
                   "--limit", "40", "--group-by", "scam_type", "-o", out)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["datasets"][data]["dialogues"] == 40 and "early.erde50" in metrics
