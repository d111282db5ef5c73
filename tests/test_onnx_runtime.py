"""The torch-free ONNX runtime: parity with the torch backend (tiny random model; the shipped model when exported),
no torch on its import path, the int8 graph, and one-line errors for what a user can get wrong."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from analyzer.api import Analyzer, auto_runtime
from analyzer.model.errors import ModelLoadError
from analyzer.paths import DEFAULT_MODEL_DIR
from tests.conftest import REPO

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

DIALOGUE = {"id": "x", "turns": [{"speaker": "客服", "text": "您好，我是京东金融的客服"},
                                 {"speaker": "用户", "text": "嗯，什么事"},
                                 {"speaker": "客服", "text": "您的百万保障明天扣费，请下载会议软件共享屏幕"},
                                 {"speaker": "用户", "text": "😀"},
                                 {"speaker": "客服", "text": "把验证码报给我，我给您三倍赔偿"}]}
DIALOGUES = [DIALOGUE, {"id": "y", "turns": [{"speaker": "A", "text": "妈，我手机掉水里了"},
                                             {"speaker": "B", "text": "啊？"},
                                             {"speaker": "A", "text": "Hello, 请先转两万到这个卡上" * 8}]},
             {"id": "z", "turns": [{"speaker": "快递员", "text": "您的快递到了，放在驿站了"}]},
             {"id": "w", "turns": [{"speaker": "B", "text": "喂？"}, {"speaker": "A", "text": "我是公安局的"},
                                   {"speaker": "C", "text": "你的银行卡涉嫌洗钱"}, {"speaker": "B", "text": "啊"}]}]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, add_lexical_channel, save_tiny_tagger):
    """A tiny random tagger with a lexical channel (weight 0.4), exported to ONNX (fp32 and int8)."""
    from analyzer.model.onnx_export import export
    folder = save_tiny_tagger(tmp_path_factory.mktemp("onnx") / "tiny", risk_temperature=1.7,
                              decision={"alert_threshold": 0.5})
    try:
        add_lexical_channel(folder)
    except ImportError:  # no scikit-learn: the neural channel alone
        pass
    export(folder)
    return folder


@pytest.fixture(scope="module")
def torch_analyzer(exported):
    return Analyzer.from_pretrained(exported, runtime="torch")


@pytest.fixture(scope="module")
def onnx_analyzer(exported):
    return Analyzer.from_pretrained(exported, runtime="onnx", precision="fp32")


def _tactics(prediction):
    return np.array([list(t.tactics.values()) for t in prediction.turns])


def test_export_writes_the_graphs_and_a_manifest(exported):
    files = {p.name for p in (exported / "onnx").iterdir()}
    assert {"encoder.onnx", "encoder.int8.onnx", "step.onnx", "export.json"} <= files
    info = json.loads((exported / "onnx" / "export.json").read_text())
    gate = info["int8_vs_fp32"]
    assert info["default_precision"] == ("int8" if gate["passes"] else "fp32")
    assert gate["data"] == "dev" and 0.0 <= gate["alerts_identical"] <= 1.0
    smoothing = info["int8_smoothing"]
    assert smoothing["matmul_inputs"] == 2 * 4  # per layer: Q/K/V, attention output, FFN in, FFN out
    assert smoothing["simulated_error"]["mean_after"] <= smoothing["simulated_error"]["mean_before"]


def test_batch_parity_with_torch(torch_analyzer, onnx_analyzer):
    for a, b in zip(torch_analyzer.analyze_many(DIALOGUES), onnx_analyzer.analyze_many(DIALOGUES)):
        assert np.allclose(_tactics(a), _tactics(b), atol=1e-4)
        assert np.allclose([t.risk for t in a.turns], [t.risk for t in b.turns], atol=1e-4)
        assert [t.predicted for t in a.turns] == [t.predicted for t in b.turns]
        assert (a.is_scam, a.alert_turn, a.risk_level) == (b.is_scam, b.alert_turn, b.risk_level)
        assert abs(a.scam_probability - b.scam_probability) <= 1e-4


def test_scam_type_and_raw_scores_match(torch_analyzer, onnx_analyzer):
    from analyzer.schema import Dialogue
    dialogues = [Dialogue.model_validate(d) for d in DIALOGUES]
    for a, b in zip(torch_analyzer.backend.score_many(dialogues), onnx_analyzer.backend.score_many(dialogues)):
        assert a.scam_type == b.scam_type
        assert np.allclose(a.risks, b.risks, atol=1e-5)  # the risk temperature (1.7 here) is applied alike


def test_lexical_channel_is_mixed_in(exported, onnx_analyzer):
    if not (exported / "lexical.safetensors").exists():
        pytest.skip("no scikit-learn to fit the lexical channel")
    backend = onnx_analyzer.backend
    assert backend.lexical is not None and backend.lexical_weight == 0.4


def test_live_matches_batch_and_torch_live(torch_analyzer, onnx_analyzer):
    batch = onnx_analyzer.analyze(DIALOGUE)
    onnx_session, torch_session = onnx_analyzer.live(), torch_analyzer.live()
    for i, turn in enumerate(DIALOGUE["turns"]):
        u = onnx_session.add_turn(turn["speaker"], turn["text"])
        v = torch_session.add_turn(turn["speaker"], turn["text"])
        assert abs(u.risk - batch.turns[i].risk) <= 1e-3 and abs(u.risk - v.risk) <= 1e-4
        assert u.predicted == batch.turns[i].predicted == v.predicted
        assert np.allclose(list(u.tactics.values()), list(v.tactics.values()), atol=1e-4)
    assert onnx_session.prediction().alert_turn == batch.alert_turn
    assert onnx_session.prediction().scam_type == batch.scam_type
    assert onnx_session._state.hidden.shape == (1, 1, 16)  # bounded state


def test_party_bit_is_the_first_speaker(onnx_analyzer):
    """Renaming speakers changes nothing: the model sees no names, only whether the first speaker is speaking."""
    renamed = {"id": "r", "turns": [{**t, "speaker": {"客服": "X", "用户": "Y"}[t["speaker"]]} for t in DIALOGUE["turns"]]}
    a, b = onnx_analyzer.analyze(DIALOGUE), onnx_analyzer.analyze(renamed)
    assert np.allclose([t.risk for t in a.turns], [t.risk for t in b.turns], atol=1e-6)


def test_one_turn_at_a_time_step_graph(onnx_analyzer):
    """An older export's step graph took one turn per call; the backend loops it and gets the same numbers."""
    from analyzer.schema import Dialogue
    backend = onnx_analyzer.backend
    dialogue = Dialogue.model_validate(DIALOGUE)
    whole = backend.score_many([dialogue])[0]
    backend.step_takes_sequences = False
    try:
        looped = backend.score_many([dialogue])[0]
    finally:
        backend.step_takes_sequences = True
    assert np.allclose(whole.risks, looped.risks, atol=1e-5) and whole.scam_type == looped.scam_type


def test_int8_encoder_runs(exported, onnx_analyzer):
    int8 = Analyzer.from_pretrained(exported, runtime="onnx", precision="int8")
    assert int8.name.endswith("+onnx-int8") and onnx_analyzer.name.endswith("+onnx")
    prediction = int8.analyze(DIALOGUE)
    assert len(prediction.turns) == len(DIALOGUE["turns"]) and 0.0 <= prediction.scam_probability <= 1.0
    reference = onnx_analyzer.analyze(DIALOGUE)
    # a random 32-wide encoder is a harsh case for int8; the shipped model's parity is tested below
    assert np.abs(_tactics(prediction) - _tactics(reference)).max() < 0.25


def test_auto_runtime_prefers_an_export(exported, tmp_path):
    assert auto_runtime(exported) == "onnx"
    assert Analyzer.from_pretrained(exported).backend.name.split("+")[-1].startswith("onnx")
    plain = tmp_path / "plain"
    shutil.copytree(exported, plain, ignore=shutil.ignore_patterns("onnx"))
    assert auto_runtime(plain) == "torch"
    assert auto_runtime(exported, device="cuda") == "torch"


def test_long_dialogue_and_thread_safety(onnx_analyzer):
    from concurrent.futures import ThreadPoolExecutor
    turns = [{"speaker": "AB"[i % 2], "text": ["您好", "😀😀", "Hello, this is your bank", "請把驗證碼告訴我"][i % 4]}
             for i in range(2000)]
    assert len(onnx_analyzer.analyze({"id": "long", "turns": turns}).turns) == 2000
    dialogues = [{**DIALOGUE, "id": f"d{i}", "turns": DIALOGUE["turns"][: 1 + i % 5]} for i in range(16)]
    sequential = [onnx_analyzer.analyze(d).to_dict() for d in dialogues]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda d: onnx_analyzer.analyze(d).to_dict(), dialogues))
    assert sequential == parallel


# ---------------------------------------------------------------- no torch on the import path
def test_runtime_imports_no_torch(exported):
    """Import the backend, analyze in batch and live, then check torch and transformers were never imported."""
    code = textwrap.dedent(f"""
        import sys
        from analyzer.model.onnx_runtime import OnnxBackend
        from analyzer.api import Analyzer
        analyzer = Analyzer(OnnxBackend.from_pretrained({str(exported)!r}))
        prediction = analyzer.analyze({DIALOGUE!r})
        session = analyzer.live()
        for turn in {DIALOGUE['turns']!r}:
            session.add_turn(turn["speaker"], turn["text"])
        assert session.prediction().alert_turn == prediction.alert_turn
        heavy = [m for m in ("torch", "transformers", "datasets", "sklearn") if m in sys.modules]
        assert not heavy, heavy
        print("ok", prediction.scam_probability)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=ENV, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr[-2000:]


BLOCK_TORCH = "import sys; sys.modules.update(torch=None, transformers=None, datasets=None); " \
              "from analyzer.cli import main; sys.exit(main(sys.argv[1:]))"


def _cli_without_torch(*args):
    """The CLI as a light install (no torch, no transformers) runs it."""
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH, *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=ENV, timeout=300)


def test_cli_analyzes_without_torch(exported, write):
    path = write("call.txt", "客服：您好，我是京东金融的客服\n用户：嗯，什么事\n客服：请下载会议软件共享屏幕\n")
    done = _cli_without_torch("analyze", path, "--model", exported)  # runtime auto: the export
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(done.stdout.splitlines()[0])
    assert row["model"].endswith(("+onnx", "+onnx-int8")) and len(row["turns"]) == 3


def test_cli_torch_runtime_without_torch_is_one_line(exported, write):
    path = write("call.txt", "客服：您好\n用户：嗯\n")
    done = _cli_without_torch("analyze", path, "--model", exported, "--runtime", "torch")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "scam-analyzer[torch]" in done.stderr


# ---------------------------------------------------------------- bad input: one line, naming the fix
def test_folder_without_export(exported, tmp_path, run_cli, write):
    plain = tmp_path / "plain"
    shutil.copytree(exported, plain, ignore=shutil.ignore_patterns("onnx"))
    with pytest.raises(ModelLoadError, match="onnx_export"):
        Analyzer.from_pretrained(plain, runtime="onnx")
    done = run_cli("analyze", write("c.txt", "A：您好\n"), "--model", plain, "--runtime", "onnx")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "no ONNX export" in done.stderr


@pytest.mark.parametrize("victim", ["encoder.onnx", "step.onnx"])
def test_corrupt_onnx_file(exported, tmp_path, victim):
    broken = tmp_path / "broken"
    shutil.copytree(exported, broken)
    (broken / "onnx" / victim).write_bytes(b"\x08\x07not an onnx graph")
    with pytest.raises(ModelLoadError, match=r"cannot load .*onnx_export") as err:
        Analyzer.from_pretrained(broken, runtime="onnx", precision="fp32")
    assert "\n" not in str(err.value)


def test_stale_export_is_refused(exported, tmp_path):
    """Weights retrained (or pulled) after the export: explicit onnx says so; auto falls back to torch."""
    from analyzer.model.modeling import ScamTaggerModel
    retrained = tmp_path / "retrained"
    shutil.copytree(exported, retrained)
    assert json.loads((retrained / "onnx" / "export.json").read_text())["weights_sha256"]
    model = ScamTaggerModel.from_pretrained(retrained)
    with torch.no_grad():
        model.risk_head.bias.add_(1.0)
    model.save_pretrained(retrained)
    with pytest.raises(ModelLoadError, match="stale"):
        Analyzer.from_pretrained(retrained, runtime="onnx")
    assert auto_runtime(retrained) == "torch"


def test_missing_onnxruntime(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelLoadError, match="pip install onnxruntime"):
        Analyzer.from_pretrained(exported, runtime="onnx")


def test_bad_runtime_and_precision(exported):
    with pytest.raises(ModelLoadError, match="unknown runtime"):
        Analyzer.from_pretrained(exported, runtime="tensorrt")
    with pytest.raises(ModelLoadError, match="unknown ONNX precision"):
        Analyzer.from_pretrained(exported, runtime="onnx", precision="fp8")


def test_missing_folder_and_wrong_model_type(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Analyzer.from_pretrained(tmp_path / "nope", runtime="onnx")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match="not a scam-dialogue-tagger"):
        Analyzer.from_pretrained(tmp_path, runtime="onnx")


def test_encoder_text_is_the_torch_backends():
    from analyzer.model.inference import encoder_text as torch_text
    from analyzer.model.onnx_runtime import encoder_text
    for text in ["您好，我是客服", "請 把 驗 證 碼\u200b告訴我", "ＡＢＣ１２３", "  spaced   out  ", "😀"]:
        assert encoder_text(text) == torch_text(text)


# ---------------------------------------------------------------- the shipped model (once it is exported)
def _agreement(reference, other) -> dict:
    turns = [(a, b) for p, q in zip(reference, other) for a, b in zip(p.turns, q.turns)]
    return {"alerts": np.mean([p.is_scam == q.is_scam for p, q in zip(reference, other)]),
            "probability": np.array([abs(p.scam_probability - q.scam_probability) for p, q in zip(reference, other)]),
            "turn_predictions": np.mean([a.predicted == b.predicted for a, b in turns]),
            "tactics": np.array([abs(a.tactics[k] - b.tactics[k]) for a, b in turns for k in a.tactics])}


# SCAM_ANALYZER_PARITY_MODEL=FOLDER checks another exported folder (e.g. an exported copy of the shipped one)
SHIPPED = Path(os.environ.get("SCAM_ANALYZER_PARITY_MODEL") or DEFAULT_MODEL_DIR)


@pytest.fixture(scope="module")
def shipped_split():
    if not (SHIPPED / "onnx" / "step.onnx").exists():
        pytest.skip(f"{SHIPPED} has no ONNX export (python -m analyzer release)")
    from analyzer.corpus import load_split
    dialogues = load_split("test")
    reference = Analyzer.from_pretrained(SHIPPED, runtime="torch").analyze_many(dialogues)
    return dialogues, reference


@pytest.mark.slow
def test_shipped_model_fp32_parity(shipped_split):
    if not (SHIPPED / "onnx" / "encoder.onnx").exists():
        pytest.skip("the fp32 encoder is not committed (only the int8 one ships); `python -m analyzer release` writes it")
    dialogues, reference = shipped_split
    got = Analyzer.from_pretrained(SHIPPED, runtime="onnx", precision="fp32").analyze_many(dialogues)
    agree = _agreement(reference, got)
    assert agree["alerts"] == 1.0 and agree["turn_predictions"] >= 0.999
    assert agree["probability"].max() <= 1e-3 and agree["tactics"].max() <= 1e-3


@pytest.mark.slow
def test_shipped_model_default_onnx_parity(shipped_split):
    """The default ONNX runtime (int8 when the export kept parity): the same alerts on >= 99% of the test split."""
    dialogues, reference = shipped_split
    got = Analyzer.from_pretrained(SHIPPED, runtime="onnx").analyze_many(dialogues)
    agree = _agreement(reference, got)
    assert agree["alerts"] >= 0.99, agree["alerts"]
    assert agree["probability"].mean() <= 0.01 and np.percentile(agree["probability"], 95) <= 0.05
    assert agree["turn_predictions"] >= 0.98 and agree["tactics"].mean() <= 0.005
