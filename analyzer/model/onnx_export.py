"""ONNX export of the tagger and an onnxruntime backend with the same interface as the torch one.

    python -m analyzer release MODEL_DIR      # among other things, writes MODEL_DIR/onnx/{encoder,step}.onnx

Two graphs: `encoder` maps a batch of turns (token ids, mask) to mean-pooled turn vectors; `step` advances the
causal GRU by one turn and applies the heads. Batch mode encodes all turns at once and loops the tiny step graph.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from analyzer.model.inference import LiveState, NeuralBackend, encoder_text
from analyzer.predict import DialogueScores
from analyzer.schema import Dialogue


class _Encoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.encode_turns(input_ids, attention_mask)


class _Step(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, vector, first, hidden):
        out, hidden = self.model.context(torch.cat([vector, first], dim=-1).unsqueeze(1), hidden)
        tactic_logits, risk_logits, type_logits = self.model.heads(vector, out[:, 0])
        return torch.sigmoid(tactic_logits), risk_logits, type_logits, hidden


def export(model_dir: str | Path) -> Path:
    backend = NeuralBackend.from_pretrained(model_dir)
    model = backend.model.float().eval()
    out = Path(model_dir) / "onnx"
    out.mkdir(exist_ok=True)
    ids = backend.tokenizer(["客服：您好，我是客服", "用户：嗯"], padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.onnx.export(_Encoder(model), (ids["input_ids"], ids["attention_mask"]), str(out / "encoder.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["vectors"],
                          dynamic_axes={"input_ids": {0: "turns", 1: "tokens"}, "attention_mask": {0: "turns", 1: "tokens"},
                                        "vectors": {0: "turns"}}, opset_version=17, dynamo=False)
        hidden_size = model.config.context_size
        vector = torch.zeros(1, model.tactic_head.in_features - hidden_size)
        torch.onnx.export(_Step(model), (vector, torch.ones(1, 1), torch.zeros(1, 1, hidden_size)), str(out / "step.onnx"),
                          input_names=["vector", "first", "hidden"],
                          output_names=["tactic_probs", "risk_logits", "type_logits", "hidden_out"],
                          opset_version=17, dynamo=False)
    return out


class OnnxBackend(NeuralBackend):
    """Same tokenizer, decision and outputs as NeuralBackend, computed by onnxruntime."""

    def __init__(self, model, tokenizer, name: str, folder: Path, threads: int = 0):
        import onnxruntime as ort
        super().__init__(model, tokenizer, name=name + "+onnx")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.encoder = ort.InferenceSession(str(folder / "encoder.onnx"), options, providers=["CPUExecutionProvider"])
        self.stepper = ort.InferenceSession(str(folder / "step.onnx"), options, providers=["CPUExecutionProvider"])
        self.hidden_size = model.config.context_size

    @classmethod
    def from_pretrained(cls, path=None, device: str = "cpu", threads: int = 0) -> "OnnxBackend":
        from analyzer.model.errors import ModelLoadError
        from analyzer.paths import DEFAULT_MODEL_DIR
        base = NeuralBackend.from_pretrained(path, device="cpu")
        folder = Path(path or DEFAULT_MODEL_DIR) / "onnx"
        if not (folder / "encoder.onnx").exists():
            raise ModelLoadError(f"{folder} has no ONNX export; run `python -m analyzer release "
                                 f"{path or DEFAULT_MODEL_DIR}`")
        backend = cls(base.model, base.tokenizer, base.name, folder, threads)
        backend.folder = base.folder
        backend.set_lexical(base.lexical, base.lexical_weight)
        return backend

    def _encode_chunk(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.encoder.run(None, {"input_ids": input_ids.numpy(),
                                                        "attention_mask": mask.numpy()})[0])

    def _vectors(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts).numpy()

    def _advance(self, vector: np.ndarray, first: bool, hidden: np.ndarray):
        probs, risk, types, hidden = self.stepper.run(None, {"vector": vector[None, :].astype(np.float32),
                                                             "first": np.array([[float(first)]], dtype=np.float32),
                                                             "hidden": hidden})
        return probs[0], float(risk[0]), types[0], hidden

    def _risk(self, logit: float) -> float:
        return float(1 / (1 + np.exp(-logit / self.model.config.risk_temperature)))

    def score_many(self, dialogues: Sequence[Dialogue]) -> list[DialogueScores]:
        texts = [encoder_text(t.text) for d in dialogues for t in d.turns]
        vectors = self._vectors(texts)
        kinds = self.model.config.scam_types
        results, k = [], 0
        for d in dialogues:
            hidden = np.zeros((1, 1, self.hidden_size), dtype=np.float32)
            probs, risks, types = [], [], None
            for turn in d.turns:
                turn_probs, logit, types, hidden = self._advance(vectors[k], turn.speaker == d.turns[0].speaker,
                                                                 hidden)
                probs.append(turn_probs)
                risks.append(self._risk(logit))
                k += 1
            tactics = self.tactic_rows(np.stack(probs), [t.text for t in d.turns])
            results.append(DialogueScores(tactics, risks, kinds[int(np.argmax(types))]))
        return results

    def step(self, state: LiveState, speaker: str, text: str):
        first_speaker = state.first_speaker if state.first_speaker is not None else speaker
        hidden = state.hidden if state.hidden is not None else np.zeros((1, 1, self.hidden_size), dtype=np.float32)
        probs, logit, types, hidden = self._advance(self._vectors([encoder_text(text)])[0],
                                                    speaker == first_speaker, hidden)
        return (LiveState(first_speaker=first_speaker, hidden=hidden), self.tactic_rows(probs[None, :], [text])[0],
                self._risk(logit), self.model.config.scam_types[int(np.argmax(types))])
