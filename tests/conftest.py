import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def write(tmp_path):
    """Write text or bytes to a file in tmp_path and return its path."""
    def _write(name: str, content) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path
    return _write


@pytest.fixture
def dialogue_dict():
    return {"id": "d1", "label": "scam", "turns": [
        {"speaker": "客服", "text": "您好，我是淘宝客服，您买的面霜检测出荧光剂超标", "tactics": ["impersonation", "pretext"]},
        {"speaker": "用户", "text": "啊？那怎么办", "tactics": []},
        {"speaker": "客服", "text": "把验证码报给我，我给您三倍赔偿", "tactics": ["sensitive_info", "lure"]}]}


@pytest.fixture
def run_cli():
    """Run `python -m analyzer ...` in a subprocess; returns CompletedProcess with text output."""
    def _run(*args, stdin: str | None = None):
        return subprocess.run([sys.executable, "-m", "analyzer", *map(str, args)], input=stdin, capture_output=True,
                              text=True, cwd=REPO, timeout=300)
    return _run


def jsonl(*objs) -> str:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs)


def free_port() -> int:
    """A loopback port nobody is listening on (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def add_lexical_channel():
    """Fits a small lexical tactic channel into a model folder and mixes it in at weight 0.4 (needs scikit-learn)."""
    def add(folder):
        from analyzer.taxonomy import TACTIC_IDS
        from analyzer.training.lexical_fit import fit_lexical
        texts = ["您好，我是京东金融的客服", "请下载会议软件共享屏幕", "打开会议软件，共享一下屏幕", "您好我是客服小王", "嗯，什么事"]
        labels = [["impersonation"], ["guided_operation"], ["guided_operation"], ["impersonation"], []]
        fit_lexical(texts, labels, TACTIC_IDS).save(folder)
        config = json.loads((folder / "config.json").read_text())
        config["lexical_weight"] = 0.4
        (folder / "config.json").write_text(json.dumps(config))
        return folder
    return add


@pytest.fixture(scope="session")
def save_tiny_tagger():
    """Saves a 2-layer random tagger with the shipped model's tokenizer into a folder (extra config keys allowed)."""
    def save(root: Path, **config) -> Path:
        torch = pytest.importorskip("torch")
        from transformers import AutoTokenizer, BertConfig

        from analyzer.model.modeling import ScamTaggerConfig, ScamTaggerModel
        from analyzer.paths import DEFAULT_MODEL_DIR
        tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
        enc = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128, pad_token_id=1).to_dict()
        torch.manual_seed(0)
        ScamTaggerModel(ScamTaggerConfig(encoder=enc, context_size=16, max_turn_tokens=32, **config)).save_pretrained(root)
        tokenizer.save_pretrained(root)
        return root
    return save


@pytest.fixture(scope="session")
def tiny_model(save_tiny_tagger, tmp_path_factory) -> Path:
    return save_tiny_tagger(tmp_path_factory.mktemp("tiny"), decision={"alert_threshold": 0.5})
