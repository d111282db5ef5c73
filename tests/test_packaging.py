"""Install tiers and shipped files: the light import path has no torch, the wheel carries the model, prompts and task
YAMLs (found through importlib.resources), and a model folder loads with transformers alone (trust_remote_code)."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

from analyzer import paths
from tests.conftest import REPO

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
# the model folder the wheel tests package (setup.py honours the same variable), e.g. an exported copy
SHIPPED = Path(os.environ.get("SCAM_ANALYZER_WHEEL_MODEL") or paths.DEFAULT_MODEL_DIR)
HEAVY = ("torch", "transformers", "datasets", "sklearn")


def _names(requirements) -> set[str]:
    import re
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_install_tiers():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = _names(project["dependencies"])
    assert base == {"numpy", "tokenizers", "onnxruntime", "pydantic", "pyyaml", "safetensors", "tqdm"}
    extras = project["optional-dependencies"]
    assert "torch==2.13.0" in extras["torch"] and "transformers" in _names(extras["torch"])
    dev = extras["dev"][0]
    assert dev.startswith("scam-analyzer[") and all(e in dev for e in ("torch", "onnx", "train", "serve", "eval"))


def test_light_import_path_has_no_torch():
    """What `scam-analyzer analyze` imports before a model is loaded, and the ONNX runtime itself."""
    code = textwrap.dedent(f"""
        import sys
        import analyzer, analyzer.api, analyzer.predict, analyzer.decision, analyzer.schema, analyzer.readers
        import analyzer.taxonomy, analyzer.normalize, analyzer.paths, analyzer.writers, analyzer.rules_backend
        import analyzer.model.onnx_runtime, analyzer.model.lexical, analyzer.model.errors, analyzer.model.hub
        from analyzer.cli import build_parser
        build_parser().parse_args(["analyze", "x.txt", "--runtime", "onnx"])
        from analyzer import Analyzer
        Analyzer.from_pretrained("rules").analyze({{"id": "a", "turns": [{{"speaker": "A", "text": "验证码"}}]}})
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        assert not heavy, heavy
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_shipped_files_resolve_in_the_checkout():
    assert paths.DEFAULT_MODEL_DIR == REPO / "models" / "scam-tagger-zh"
    assert paths.PROMPTS_DIR == REPO / "prompts" and any(paths.PROMPTS_DIR.glob("*.yaml"))
    assert paths.EVAL_TASKS_DIR == REPO / "eval" / "tasks" and any(paths.EVAL_TASKS_DIR.glob("*.yaml"))


def test_packaged_copy_comes_first(tmp_path, monkeypatch):
    (tmp_path / paths.PACKAGED_DATA / "prompts").mkdir(parents=True)
    monkeypatch.setattr(paths, "files", lambda package: tmp_path)
    assert paths.resource("prompts") == tmp_path / paths.PACKAGED_DATA / "prompts"
    assert paths.resource("eval/tasks") == REPO / "eval" / "tasks"  # not packaged there: the checkout's


# ---------------------------------------------------------------- Hugging Face conventions
def test_modeling_file_is_self_contained():
    import ast

    from analyzer.model.hub import modeling_source
    source = modeling_source()
    tree = ast.parse(source)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "typing", "torch", "transformers"}, imported
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    assert {"ScamTaggerConfig", "ScamTaggerModel"} <= classes and ".register(" not in source


def test_folder_loads_with_transformers_alone(tmp_path, save_tiny_tagger):
    """write_hub_files, then AutoModel.from_pretrained(trust_remote_code=True) in a process that never imports
    analyzer gives the same outputs as the package's own classes."""
    torch = pytest.importorskip("torch")
    from analyzer.model.hub import MODELING_FILE, write_hub_files
    from analyzer.model.modeling import ScamTaggerModel
    folder = save_tiny_tagger(tmp_path / "tiny")
    write_hub_files(folder)
    assert (folder / MODELING_FILE).exists()
    assert json.loads((folder / "config.json").read_text())["auto_map"]["AutoModel"].endswith(".ScamTaggerModel")
    ids = [[0, 5, 17, 300, 2], [0, 9, 2, 1, 1]]
    mask = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    code = textwrap.dedent(f"""
        import json, sys
        import torch
        from transformers import AutoConfig, AutoModel
        config = AutoConfig.from_pretrained({str(folder)!r}, trust_remote_code=True)
        model = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True, dtype=torch.float32).eval()
        with torch.no_grad():
            vectors = model.encode_turns(torch.tensor({ids}), torch.tensor({mask}))
            out = model.forward_vectors(vectors, [2], torch.tensor([1.0, 0.0]))
        assert "analyzer" not in sys.modules, "the remote code imported analyzer"
        print(json.dumps({{"class": type(model).__name__, "type": config.model_type,
                           "risk": out["risk_logits"].tolist(), "vectors": vectors.sum().item()}}))
    """)
    env = {**ENV, "HF_MODULES_CACHE": str(tmp_path / "hf_modules"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": ""}  # transformers only: the checkout is not on the path
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    remote = json.loads(done.stdout.strip().splitlines()[-1])
    assert remote["class"] == "ScamTaggerModel" and remote["type"] == "scam-dialogue-tagger"
    local = ScamTaggerModel.from_pretrained(folder).eval()
    with torch.no_grad():
        vectors = local.encode_turns(torch.tensor(ids), torch.tensor(mask))
        out = local.forward_vectors(vectors, [2], torch.tensor([1.0, 0.0]))
    assert abs(vectors.sum().item() - remote["vectors"]) < 1e-4
    assert torch.allclose(out["risk_logits"], torch.tensor(remote["risk"]), atol=1e-5)
    # the package still loads the folder with its own (registered) classes, auto_map or not
    from analyzer.model.inference import NeuralBackend
    assert isinstance(NeuralBackend.from_pretrained(folder).model, ScamTaggerModel)


# ---------------------------------------------------------------- the wheel
def _build_wheel(tmp_path: Path) -> Path:
    """Build from a copy of the sources (the checkout gets no build/ folder)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_data")
    shutil.copytree(REPO / "analyzer", src / "analyzer", ignore=ignore)
    shutil.copytree(REPO / "prompts", src / "prompts")
    shutil.copytree(REPO / "eval" / "tasks", src / "eval" / "tasks")
    shutil.copytree(SHIPPED, src / "models" / "scam-tagger-zh")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path / "whl"), str(src)], capture_output=True, text=True, env=ENV, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return next((tmp_path / "whl").glob("*.whl"))


@pytest.mark.slow
def test_wheel_carries_the_shipped_files(tmp_path):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    data = "analyzer/_data/"
    model = data + "models/scam-tagger-zh/"
    for name in ("config.json", "tokenizer.json", "lexical.safetensors", "lexical_vocab.json", "model.safetensors"):
        assert model + name in names
    assert data + "prompts/explain.zh.v1.yaml" in names
    assert {f"{data}eval/tasks/{p.name}" for p in (REPO / "eval" / "tasks").glob("*.yaml")} <= names
    if (SHIPPED / "onnx" / "step.onnx").exists():
        assert model + "onnx/step.onnx" in names
        assert {model + "onnx/encoder.int8.onnx", model + "onnx/encoder.onnx"} & names
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    torch_lines = [line for line in requires if line.split()[1].startswith(("torch", "transformers", "datasets"))]
    assert torch_lines and all("extra ==" in line for line in torch_lines)
    assert any(line.split()[1].startswith("onnxruntime") and "extra" not in line for line in requires)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SCAM_ANALYZER_TEST_INSTALL"),
                    reason="installs the wheel into a fresh venv from the package index: SCAM_ANALYZER_TEST_INSTALL=1")
def test_light_install_analyzes_examples(tmp_path):
    """The wheel without extras in a fresh venv: no torch, and the shipped model analyzes on onnxruntime."""
    if not (SHIPPED / "onnx" / "step.onnx").exists():
        pytest.skip(f"{SHIPPED} has no ONNX export to analyze with (SCAM_ANALYZER_WHEEL_MODEL=an exported copy)")
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import importlib.util as u; "
                            "print([m for m in ('torch', 'transformers') if u.find_spec(m)])"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert probe.stdout.strip() == "[]"
    examples = sorted((REPO / "examples").glob("*.txt"))
    done = subprocess.run([str(venv / "bin" / "scam-analyzer"), "analyze", str(examples[0])], capture_output=True,
                          text=True, cwd=tmp_path, env={**ENV, "PYTHONPATH": ""}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "+onnx" in json.loads(done.stdout.splitlines()[0])["model"]
