"""The lexical tactic channel: character n-gram TF-IDF with one logistic regression per tactic.

Why: the encoder learns from 940 training dialogues; a linear model over character n-grams holds on to fixed
phrases (验证码, 保证金, 屏幕共享) that the encoder blurs, and the two err on different turns, so their average tags
turns better than either (the mixing weight is chosen on the selection set). Fitted with scikit-learn at training
time (analyzer.training.lexical_fit), saved next to the model as plain tensors and a vocabulary (no pickles),
applied here with numpy so inference needs no scikit-learn.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

WEIGHTS_FILE = "lexical.safetensors"
VOCAB_FILE = "lexical_vocab.json"
NGRAM_RANGE = (1, 3)
_WHITE_SPACES = re.compile(r"\s\s+")


def char_ngrams(text: str, low: int = NGRAM_RANGE[0], high: int = NGRAM_RANGE[1]) -> list[str]:
    """The n-grams scikit-learn's analyzer="char" yields (lower-cased, runs of white space squeezed)."""
    text = _WHITE_SPACES.sub(" ", text.lower())
    return [text[i:i + n] for n in range(low, high + 1) for i in range(len(text) - n + 1)]


@dataclass
class LexicalTactics:
    vocabulary: dict[str, int]
    idf: np.ndarray        # (V,)
    coef: np.ndarray       # (V, K)
    intercept: np.ndarray  # (K,)
    tactic_ids: list[str]

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """(N, K) tactic probabilities, the same as scikit-learn's pipeline would give."""
        out = np.empty((len(texts), len(self.tactic_ids)), dtype=np.float32)
        for row, text in enumerate(texts):
            counts = Counter(i for gram in char_ngrams(text) if (i := self.vocabulary.get(gram)) is not None)
            logits = self.intercept.astype(np.float64)
            if counts:
                index = np.fromiter(counts.keys(), dtype=np.int64)
                weight = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * self.idf[index]
                weight /= math.sqrt(float(weight @ weight))
                logits = logits + weight @ self.coef[index].astype(np.float64)
            out[row] = 1.0 / (1.0 + np.exp(-logits))
        return out

    def save(self, folder: str | Path) -> None:
        from safetensors.numpy import save_file

        folder = Path(folder)
        save_file({"idf": self.idf.astype(np.float32), "coef": self.coef.astype(np.float16),
                   "intercept": self.intercept.astype(np.float32)}, str(folder / WEIGHTS_FILE))
        grams = sorted(self.vocabulary, key=self.vocabulary.get)
        (folder / VOCAB_FILE).write_text(json.dumps({"tactic_ids": self.tactic_ids, "ngram_range": NGRAM_RANGE,
                                                     "ngrams": grams}, ensure_ascii=False))

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "LexicalTactics | None":
        """The channel saved in a model folder, or None when the folder has none."""
        from safetensors.numpy import load_file

        folder = Path(folder)
        if not (folder / WEIGHTS_FILE).exists() or not (folder / VOCAB_FILE).exists():
            return None
        meta = json.loads((folder / VOCAB_FILE).read_text())
        if tuple(meta["ngram_range"]) != NGRAM_RANGE:
            raise ValueError(f"{folder / VOCAB_FILE}: n-gram range {meta['ngram_range']} is not {NGRAM_RANGE}")
        tensors = load_file(str(folder / WEIGHTS_FILE))
        return cls({gram: i for i, gram in enumerate(meta["ngrams"])}, tensors["idf"],
                   tensors["coef"].astype(np.float32), tensors["intercept"], meta["tactic_ids"])


def mix(neural: np.ndarray, lexical: np.ndarray, weight: float) -> np.ndarray:
    """The tactic probabilities the backend reports: `weight` of the lexical channel, the rest neural."""
    return (1.0 - weight) * neural + weight * lexical
