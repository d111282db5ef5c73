"""Batch and live inference with a trained tagger folder, as a backend of the Analyzer facade."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from analyzer.model.errors import ModelLoadError
from analyzer.model.lexical import LexicalTactics, mix
from analyzer.normalize import normalize_text
from analyzer.paths import DEFAULT_MODEL_DIR
from analyzer.decision import Decision
from analyzer.predict import DialogueScores
from analyzer.schema import Dialogue

REBUILD_HINT = "rebuild it with `make model` (or `python -m analyzer train`), or pass --model rules for the keyword baseline"


def encoder_text(text: str) -> str:
    """How a turn is shown to the encoder and the lexical channel: normalised text, no speaker name.

    Speaker names carried the label in the written corpus (personas only in scams, 快递员 only in benign calls), so
    the model sees who speaks only as a party bit (same party as the first speaker or not), never the name.
    """
    return normalize_text(text)


@dataclass
class LiveState:
    first_speaker: Optional[str] = None
    hidden: Optional[torch.Tensor] = None


class NeuralBackend:
    def __init__(self, model, tokenizer, name: str, device: str = "cpu"):
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.name = name
        self.folder: Optional[Path] = None  # the local folder it was loaded from, if any
        self.device = device
        self.decision = Decision.from_dict(model.config.decision) if model.config.decision else Decision()
        self._lock = threading.Lock()  # the fast tokenizer is not safe to share across threads
        self.lexical: Optional[LexicalTactics] = None
        self.lexical_weight = 0.0

    def set_lexical(self, lexical: Optional[LexicalTactics], weight: float) -> None:
        """Attach the lexical tactic channel with its mixing weight (kept in the config so that it is saved)."""
        self.lexical, self.lexical_weight = lexical, (weight if lexical is not None else 0.0)
        self.model.config.lexical_weight = self.lexical_weight

    def tactic_rows(self, neural: np.ndarray, texts: list[str]) -> list[dict[str, float]]:
        """Per-turn tactic probabilities: the neural ones, mixed with the lexical channel's when there is one."""
        if self.lexical is not None and self.lexical_weight > 0:
            neural = mix(neural, self.lexical.predict([encoder_text(t) for t in texts]), self.lexical_weight)
        ids = self.model.config.tactic_ids
        return [dict(zip(ids, row)) for row in neural.tolist()]

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str = "cpu") -> "NeuralBackend":
        from transformers import AutoModel, AutoTokenizer
        import analyzer.model.modeling  # noqa: F401  (registers the Auto classes)

        folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
        is_local = path is None or folder.exists() or str(path).startswith((".", "/"))
        if is_local:
            if not folder.exists():
                raise ModelLoadError(f"model folder {folder} does not exist; {REBUILD_HINT}")
            if not (folder / "config.json").exists():
                raise ModelLoadError(f"model folder {folder} has no config.json; {REBUILD_HINT}")
        try:
            model = AutoModel.from_pretrained(str(folder) if is_local else str(path), dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(str(folder) if is_local else str(path))
        except Exception as err:  # corrupt weights, wrong model type, unreadable files
            raise ModelLoadError(f"cannot load model from {folder}: {type(err).__name__}: {str(err)[:200]}; "
                                 f"{REBUILD_HINT}") from None
        if getattr(model.config, "model_type", "") != "scam-dialogue-tagger":
            raise ModelLoadError(f"{folder} holds a {model.config.model_type!r} model, not a scam-dialogue-tagger; "
                                 "train one on it with `python -m analyzer train --base-model ...`")
        version = (json.loads((folder / "training_args.json").read_text()).get("version")
                   if is_local and (folder / "training_args.json").exists() else None)
        name = f"{folder.name}" + (f"@{version}" if version else "")
        backend = cls(model, tokenizer, name=name, device=device)
        backend.folder = folder if is_local else None
        if is_local:
            try:
                lexical = LexicalTactics.from_pretrained(folder)
            except Exception as err:
                raise ModelLoadError(f"cannot load the lexical channel in {folder}: {type(err).__name__}: "
                                     f"{str(err)[:200]}; {REBUILD_HINT}") from None
            backend.set_lexical(lexical, getattr(model.config, "lexical_weight", 0.0))
        return backend

    # ---------------------------------------------------------------- batch
    def _tokenize(self, texts: list[str]):
        with self._lock:
            return self.tokenizer(texts, truncation=True, max_length=self.model.config.max_turn_tokens,
                                  padding=True, return_tensors="pt")

    @torch.inference_mode()
    def encode(self, texts: list[str], chunk: int = 64) -> torch.Tensor:
        """Turn vectors, encoded in chunks of similar length so that little compute goes to padding."""
        with self._lock:
            ids = self.tokenizer(texts, truncation=True, max_length=self.model.config.max_turn_tokens)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        pad = self.tokenizer.pad_token_id
        vectors = [None] * len(ids)
        for start in range(0, len(order), chunk):
            rows = order[start:start + chunk]
            width = max(len(ids[i]) for i in rows)
            input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, i in enumerate(rows):
                input_ids[r, :len(ids[i])] = torch.tensor(ids[i])
                mask[r, :len(ids[i])] = 1
            out = self._encode_chunk(input_ids, mask)
            for r, i in enumerate(rows):
                vectors[i] = out[r]
        return torch.stack(vectors)

    def _encode_chunk(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model.encode_turns(input_ids.to(self.device), mask.to(self.device))

    @torch.inference_mode()
    def score_many(self, dialogues: Sequence[Dialogue]) -> list[DialogueScores]:
        texts, counts, first = [], [], []
        for d in dialogues:
            counts.append(len(d.turns))
            opener = d.turns[0].speaker
            for turn in d.turns:
                texts.append(encoder_text(turn.text))
                first.append(float(turn.speaker == opener))
        out = self.model.forward_vectors(self.encode(texts), counts, torch.tensor(first, device=self.device))
        tactics = self.tactic_rows(torch.sigmoid(out["tactic_logits"]).cpu().numpy(),
                                   [t.text for d in dialogues for t in d.turns])
        risk = torch.sigmoid(out["risk_logits"] / self.model.config.risk_temperature).cpu()
        types = out["type_logits"].cpu()
        kinds = self.model.config.scam_types
        results, start = [], 0
        for n in counts:
            results.append(DialogueScores(tactics=tactics[start:start + n],
                                          risks=risk[start:start + n].tolist(),
                                          scam_type=kinds[int(types[start + n - 1].argmax())]))
            start += n
        return results

    # ---------------------------------------------------------------- live
    def start(self) -> LiveState:
        return LiveState()

    def step(self, state: LiveState, speaker: str, text: str):
        if state.first_speaker is None:
            state = LiveState(first_speaker=speaker, hidden=None)
        batch = self._tokenize([encoder_text(text)])
        tactic, risk, types, hidden = self.model.step(batch["input_ids"].to(self.device),
                                                      batch["attention_mask"].to(self.device),
                                                      speaker == state.first_speaker, state.hidden)
        new_state = LiveState(first_speaker=state.first_speaker, hidden=hidden)
        tactics = self.tactic_rows(tactic.cpu().numpy()[None, :], [text])[0]
        return new_state, tactics, float(risk), self.model.config.scam_types[int(types.argmax())]
