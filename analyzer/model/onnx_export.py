"""ONNX export of the tagger and its dynamic int8 quantisation, for the torch-free runtime (model.onnx_runtime).

    python -m analyzer release MODEL_DIR            # recalibrate, export, card (export is one step of the release)
    python -m analyzer.model.onnx_export MODEL_DIR  # export only (needs the `torch` and `onnx` extras)

Writes MODEL_DIR/onnx/:
- encoder.onnx       a batch of turns (token ids, mask) -> pooled turn vectors, fp32;
- encoder.int8.onnx  the same graph after onnxruntime's dynamic int8 quantisation (quantize_dynamic: int8 weights per
                     output channel, activations quantised per tensor at run time; VNNI kernels where the CPU has them);
- step.onnx          the causal GRU and the heads over T turns of one call from a given GRU state (T = 1 in live mode,
                     the whole call in batch mode);
- export.json        what was exported, how int8 compares with fp32 on the dev split, the precision to run by default.

Why smoothing before quantising: the activations entering the encoder's feed-forward layers have a few outlier channels
(up to ~20x the median), so one per-tensor int8 range leaves the other channels coarse (turn vectors off by ~12%,
3 alerts of 240 flipped). As in SmoothQuant, each weight MatMul's input channels are divided by s and the weight's rows
multiplied by s (exact in fp32: an fp32 Mul before the MatMul), with s = max|x|^a / max|w|^(1-a) and `a` chosen per
MatMul on calibration turns of the train split to minimise the simulated int8 error. int8 becomes the default only when,
on the dev split, it gives the same alerts as fp32 on >= 99% of calls (and close probabilities and turn predictions).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from analyzer.model.inference import NeuralBackend
from analyzer.model.onnx_runtime import (ENCODER_FILES, EXPORT_FILE, ONNX_DIR, STEP_FILE, OnnxBackend, encoder_text,
                                         weights_sha256)

OPSET = 17
ALPHAS = (None, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)  # None: no smoothing for that MatMul
CALIBRATION_TURNS = 500
# int8 is the default precision when, against fp32 on the dev split, it keeps these
INT8_GATE = {"alerts_identical": 0.99, "turn_predictions_identical": 0.98, "probability_abs_diff_mean": 0.01}
SAMPLE_TURNS = ["您好，我是京东金融的客服，您开通的百万保障明天就要扣费了", "嗯，什么事", "请下载会议软件，打开屏幕共享",
                "把验证码报给我，我给您三倍赔偿", "您的快递到了，放在驿站了", "妈，我手机掉水里了，这是我新号",
                "我是公安局的，你的银行卡涉嫌洗钱，需要把资金转到安全账户", "好的谢谢，再见", "Hello, this is your bank",
                "😀", "", "请" * 200]


class _Encoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.encode_turns(input_ids, attention_mask)


class _Step(torch.nn.Module):
    """T turns of one call from GRU state `hidden`: per-turn tactic probabilities, risk and type logits, new state."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, vector, first, hidden):
        out, hidden = self.model.context(torch.cat([vector, first], dim=-1).unsqueeze(0), hidden)
        tactic_logits, risk_logits, type_logits = self.model.heads(vector, out[0])
        return torch.sigmoid(tactic_logits), risk_logits, type_logits, hidden


def export(model_dir: str | Path, quantize: bool = True) -> Path:
    """Write MODEL_DIR/onnx/ (see the module docstring) and return that folder."""
    import warnings

    backend = NeuralBackend.from_pretrained(model_dir)
    model = backend.model.float().eval()
    out = Path(model_dir) / ONNX_DIR
    out.mkdir(exist_ok=True)
    ids = backend.tokenizer(["客服：您好，我是客服", "用户：嗯"], padding=True, return_tensors="pt")
    hidden_size = model.config.context_size
    width = model.tactic_head.in_features - hidden_size
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python bools and GRU batch sizes (batch is 1 here)
        torch.onnx.export(_Encoder(model), (ids["input_ids"], ids["attention_mask"]), str(out / ENCODER_FILES["fp32"]),
                          input_names=["input_ids", "attention_mask"], output_names=["vectors"],
                          dynamic_axes={"input_ids": {0: "turns", 1: "tokens"},
                                        "attention_mask": {0: "turns", 1: "tokens"}, "vectors": {0: "turns"}},
                          opset_version=OPSET, dynamo=False)
        torch.onnx.export(_Step(model), (torch.zeros(2, width), torch.ones(2, 1), torch.zeros(1, 1, hidden_size)),
                          str(out / STEP_FILE), input_names=["vector", "first", "hidden"],
                          output_names=["tactic_probs", "risk_logits", "type_logits", "hidden_out"],
                          dynamic_axes={"vector": {0: "turns"}, "first": {0: "turns"}, "tactic_probs": {0: "turns"},
                                        "risk_logits": {0: "turns"}, "type_logits": {0: "turns"}},
                          opset_version=OPSET, dynamo=False)
    info = {"opset": OPSET, "torch": torch.__version__, "weights_sha256": weights_sha256(Path(model_dir)),
            "files": {"fp32": ENCODER_FILES["fp32"], "step": STEP_FILE}, "default_precision": "fp32"}
    int8_path = out / ENCODER_FILES["int8"]
    int8_path.unlink(missing_ok=True)  # a stale int8 graph from an earlier export would not match the new weights
    (out / EXPORT_FILE).write_text(json.dumps(info, indent=2) + "\n")
    if quantize:
        fp32 = OnnxBackend.from_pretrained(model_dir, precision="fp32")
        info["int8_smoothing"] = quantize_int8(out / ENCODER_FILES["fp32"], int8_path, fp32, calibration_texts())
        info["files"]["int8"] = ENCODER_FILES["int8"]
        info["int8_vs_fp32"] = compare_precisions(model_dir)
        info["default_precision"] = "int8" if info["int8_vs_fp32"]["passes"] else "fp32"
        (out / EXPORT_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return out


# ---------------------------------------------------------------- int8: smoothing, then quantize_dynamic
def calibration_texts(n: int = CALIBRATION_TURNS) -> list[str]:
    """Turn texts (as the encoder sees them) spread over the train split; the sample turns without a corpus."""
    try:
        from analyzer.corpus import load_split
        dialogues = load_split("train")
    except Exception:  # an installed package without the corpus
        return [encoder_text(t) for t in SAMPLE_TURNS]
    texts = [encoder_text(t["text"]) for d in dialogues[::max(1, len(dialogues) // 80)] for t in d["turns"]]
    return texts[:: max(1, len(texts) // n)][:n]


def quantize_int8(source: Path, target: Path, backend: OnnxBackend, texts: list[str]) -> dict:
    """Smooth the fp32 encoder's weight MatMuls on calibration `texts`, then quantize_dynamic it into `target`.

    Returns how many MatMul inputs were smoothed with which exponent and the simulated int8 error before and after.
    """
    import onnx
    from onnx import helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    weights = {t.name: t for t in model.graph.initializer}
    groups: dict[str, list] = {}  # MatMul input tensor -> the MatMuls with a constant 2-D weight that read it
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights and len(weights[node.input[1]].dims) == 2:
            groups.setdefault(node.input[0], []).append(node)
    stats = _activation_stats(source, list(groups), backend, texts)
    report = {"calibration_turns": len(texts), "matmul_inputs": len(groups), "alphas": {}, "simulated_error": {}}
    before, after = [], []
    for name, nodes in groups.items():
        matrix = np.concatenate([numpy_helper.to_array(weights[n.input[1]]) for n in nodes], axis=1)
        exact = [tokens @ matrix for tokens in stats[name]["tokens"]]
        errors = {alpha: _int8_error(stats[name], matrix, _scales(stats[name], matrix, alpha), exact)
                  for alpha in ALPHAS}
        alpha = min(errors, key=errors.get)
        before.append(errors[None])
        after.append(errors[alpha])
        report["alphas"][str(alpha)] = report["alphas"].get(str(alpha), 0) + 1
        if alpha is None:
            continue
        scale = _scales(stats[name], matrix, alpha).astype(np.float32)
        inverse = numpy_helper.from_array((1.0 / scale).astype(np.float32), f"{name}/smooth_inverse")
        model.graph.initializer.append(inverse)
        position = min(list(model.graph.node).index(n) for n in nodes)
        model.graph.node.insert(position, helper.make_node("Mul", [name, inverse.name], [f"{name}/smoothed"],
                                                           name=f"{name}/smooth"))
        for node in nodes:
            tensor = weights[node.input[1]]
            node.input[0] = f"{name}/smoothed"
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * scale[:, None], tensor.name))
    report["simulated_error"] = {"mean_before": round(float(np.mean(before)), 5),
                                 "mean_after": round(float(np.mean(after)), 5)}
    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory() as tmp:
        smoothed = Path(tmp) / "smoothed.onnx"
        onnx.save(model, str(smoothed))
        root.setLevel(logging.ERROR)  # quantize_dynamic's "consider pre-processing" note, logged on the root logger
        try:
            quantize_dynamic(str(smoothed), str(target), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True})
        finally:
            root.setLevel(level)
    return report


def _activation_stats(source: Path, names: list[str], backend: OnnxBackend, texts: list[str], sample: int = 160):
    """Per MatMul input: its values on sampled real tokens and each calibration batch's per-channel min and max (the
    range onnxruntime quantises with covers the whole padded batch)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    probe = onnx.load(str(source))
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the tensors' names
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    ids = [e.ids for e in backend.tokenizer.encode_batch(texts)]
    rng = np.random.default_rng(0)
    stats = {name: {"tokens": [], "low": [], "high": []} for name in names}
    for start in range(0, len(ids), 32):
        rows = ids[start:start + 32]
        width = max(len(r) for r in rows)
        input_ids = np.full((len(rows), width), backend.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, :len(row)], mask[r, :len(row)] = row, 1
        for name, value in zip(names, session.run(names, {"input_ids": input_ids, "attention_mask": mask})):
            value = value.reshape(len(rows), width, -1)
            real = value[mask.astype(bool)]
            stats[name]["tokens"].append(real[rng.choice(len(real), min(len(real), sample), replace=False)])
            flat = value.reshape(-1, value.shape[-1])
            stats[name]["low"].append(flat.min(0))
            stats[name]["high"].append(flat.max(0))
    return stats


def _scales(stat: dict, matrix: np.ndarray, alpha) -> np.ndarray:
    """SmoothQuant's per-input-channel factor s = max|x|^a / max|w|^(1-a) (ones for alpha None)."""
    if alpha is None:
        return np.ones(matrix.shape[0], dtype=np.float64)
    act = np.maximum(np.max([np.maximum(-lo, hi) for lo, hi in zip(stat["low"], stat["high"])], axis=0), 1e-5)
    weight = np.maximum(np.abs(matrix).max(1), 1e-5)
    return np.clip(act ** alpha / weight ** (1 - alpha), 1e-3, 1e3)


def _int8_error(stat: dict, matrix: np.ndarray, scale: np.ndarray, exact: list[np.ndarray]) -> float:
    """Relative error of x @ w when x / s is quantised as onnxruntime's DynamicQuantizeLinear does (uint8 over the
    whole batch) and s * w per output column to int8; summed over the calibration batches."""
    w = matrix * scale[:, None]
    step = np.abs(w).max(0, keepdims=True) / 127.0
    step[step == 0] = 1.0
    wq = np.round(w / step) * step
    err = total = 0.0
    for tokens, low, high, product in zip(stat["tokens"], stat["low"], stat["high"], exact):
        lo, hi = min(0.0, float((low / scale).min())), max(0.0, float((high / scale).max()))
        unit = (hi - lo) / 255.0 or 1.0
        zero = np.clip(np.round(-lo / unit), 0, 255)
        xq = (np.clip(np.round(tokens / scale / unit) + zero, 0, 255) - zero) * unit
        err += float(((product - xq @ wq) ** 2).sum())
        total += float((product ** 2).sum())
    return (err / total) ** 0.5 if total else 0.0


# ---------------------------------------------------------------- does int8 keep parity?
def compare_precisions(model_dir: str | Path) -> dict:
    """int8 against fp32 on the dev split (the sample turns without a corpus), with the gate's verdict."""
    from analyzer.schema import Dialogue
    try:
        from analyzer.corpus import load_split
        dialogues, data = [Dialogue.model_validate(d) for d in load_split("dev")], "dev"
    except Exception:
        dialogues = [Dialogue.model_validate({"id": "sample", "turns": [{"speaker": "AB"[i % 2], "text": t}
                                                                       for i, t in enumerate(SAMPLE_TURNS)]})]
        data = "sample turns"
    from analyzer.predict import assemble
    runs = {}
    for precision in ("fp32", "int8"):
        backend = OnnxBackend.from_pretrained(model_dir, precision=precision)
        runs[precision] = [assemble(d, s, backend.decision) for batch in range(0, len(dialogues), 16)
                           for d, s in zip(dialogues[batch:batch + 16],
                                           backend.score_many(dialogues[batch:batch + 16]))]
    a, b = runs["fp32"], runs["int8"]
    turns = [(x, y) for p, q in zip(a, b) for x, y in zip(p.turns, q.turns)]
    diffs = np.array([abs(p.scam_probability - q.scam_probability) for p, q in zip(a, b)])
    result = {"data": data, "dialogues": len(a),
              "alerts_identical": round(float(np.mean([p.is_scam == q.is_scam for p, q in zip(a, b)])), 4),
              "turn_predictions_identical": round(float(np.mean([x.predicted == y.predicted for x, y in turns])), 4),
              "probability_abs_diff_mean": round(float(diffs.mean()), 5),
              "probability_abs_diff_max": round(float(diffs.max()), 5),
              "tactic_abs_diff_mean": round(float(np.mean([abs(x.tactics[k] - y.tactics[k])
                                                           for x, y in turns for k in x.tactics])), 5)}
    result["passes"] = (result["alerts_identical"] >= INT8_GATE["alerts_identical"]
                        and result["turn_predictions_identical"] >= INT8_GATE["turn_predictions_identical"]
                        and result["probability_abs_diff_mean"] <= INT8_GATE["probability_abs_diff_mean"])
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyzer.model.onnx_export",
                                     description="Export a model folder to ONNX (fp32 and dynamic int8).")
    parser.add_argument("folder")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 quantisation")
    args = parser.parse_args(argv)
    out = export(args.folder, quantize=not args.no_int8)
    print(json.dumps(json.loads((out / EXPORT_FILE).read_text()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
