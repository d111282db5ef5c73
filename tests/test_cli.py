import json

from analyzer.schema import Prediction
from tests.conftest import jsonl

EXPECTED_KEYS = {"id", "scam_probability", "is_scam", "risk_level", "alert_turn", "scam_type", "turns"}


def test_version(run_cli):
    done = run_cli("version")
    assert done.returncode == 0 and done.stdout.startswith("scam-analyzer ")


def test_analyze_rules_schema(run_cli, write, dialogue_dict, tmp_path):
    out = tmp_path / "out.jsonl"
    done = run_cli("analyze", write("in.jsonl", jsonl(dialogue_dict)), "-o", out, "--model", "rules")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and set(rows[0]) >= EXPECTED_KEYS
    Prediction.model_validate(rows[0])
    turn = rows[0]["turns"][2]
    assert set(turn) == {"index", "speaker", "tactics", "predicted", "risk"}
    assert "sensitive_info" in turn["predicted"]
    assert 0.0 <= rows[0]["scam_probability"] <= 1.0 and rows[0]["risk_level"] in ("safe", "caution", "danger")


def test_analyze_stdin(run_cli):
    done = run_cli("analyze", "-", "--model", "rules", stdin="A：把验证码告诉我\nB：好\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0])["id"] == "stdin-1"


def test_bad_input_exit_2_one_line_no_traceback(run_cli, write):
    done = run_cli("analyze", write("bad.jsonl", "{nope\n"), "--model", "rules")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "bad.jsonl:1: invalid JSON" in done.stderr


def test_failed_run_keeps_previous_output(run_cli, write, dialogue_dict, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    bad = write("bad.jsonl", jsonl(dialogue_dict) + "{broken\n")
    done = run_cli("analyze", bad, "-o", out, "--model", "rules")
    assert done.returncode == 2 and out.read_text() == "previous\n"
    assert not list(tmp_path.glob("out.jsonl.*"))


def test_skip_invalid_reports_and_continues(run_cli, write, dialogue_dict, tmp_path):
    out = tmp_path / "out.jsonl"
    bad = write("bad.jsonl", jsonl(dialogue_dict) + "{broken\n")
    done = run_cli("analyze", bad, "-o", out, "--model", "rules", "--skip-invalid")
    assert done.returncode == 0 and "bad.jsonl:2" in done.stderr
    assert len(out.read_text().splitlines()) == 1


def test_missing_file_and_missing_model(run_cli, write, dialogue_dict, tmp_path):
    done = run_cli("analyze", tmp_path / "nope.jsonl", "--model", "rules")
    assert done.returncode == 2 and "no such file" in done.stderr
    done = run_cli("analyze", write("in.jsonl", jsonl(dialogue_dict)), "--model", tmp_path / "no-model")
    assert done.returncode == 2 and "does not exist" in done.stderr and "make model" in done.stderr


def test_killed_run_resumes_without_loss_or_duplicates(run_cli, write, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from tests.conftest import REPO
    turns = [{"speaker": "客服", "text": "您好我是客服，请把验证码告诉我"}, {"speaker": "用户", "text": "好的"}]
    big = write("big.jsonl", "".join(json.dumps({"id": f"d{i}", "turns": turns}, ensure_ascii=False) + "\n"
                                     for i in range(40000)))
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    proc = subprocess.Popen([sys.executable, "-m", "analyzer", "analyze", str(big), "-o", str(out), "--model", "rules",
                             "--batch-size", "64"], cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not partial.exists() or partial.stat().st_size < 200_000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and partial.exists()
    written_before = partial.read_bytes().count(b"\n")
    assert 0 < written_before < 40000
    done = run_cli("analyze", big, "-o", out, "--model", "rules", "--resume")
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == [f"d{i}" for i in range(40000)] and not partial.exists()
    assert "from the interrupted run" in done.stderr


def test_resume_refuses_a_different_input(run_cli, write, dialogue_dict, tmp_path):
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").write_text(json.dumps({"id": "other"}) + "\n")
    done = run_cli("analyze", write("in.jsonl", jsonl(dialogue_dict)), "-o", out, "--model", "rules", "--resume")
    assert done.returncode == 2 and "does not match" in done.stderr
