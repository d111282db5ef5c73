"""The lexical tactic channel: character n-gram TF-IDF with one logistic regression per tactic.

Why: the encoder learns from 940 training dialogues; a linear model over character n-grams holds on to fixed
phrases (验证码, 保证金, 屏幕共享) that the encoder blurs, and the two err on different turns, so their average tags
turns better than either (the mixing weight is chosen on dev). Fitted with scikit-learn, saved next to the model as
plain tensors and a vocabulary (no pickles), applied with numpy so inference needs no scikit-learn.

`python -m analyzer.model.lexical MODEL_DIR` adds the channel to a trained folder and calibrates it again.
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

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[Sequence[str]], tactic_ids: Sequence[str],
            seed: int = 0) -> "LexicalTactics":
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
        except ImportError:
            raise SystemExit("fitting the lexical channel needs scikit-learn: pip install -e '.[train]'") from None
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=NGRAM_RANGE, min_df=2, sublinear_tf=True)
        x = vectorizer.fit_transform(texts)
        coef = np.zeros((x.shape[1], len(tactic_ids)), dtype=np.float32)
        intercept = np.full(len(tactic_ids), -20.0, dtype=np.float32)  # a tactic never seen is never predicted
        for k, tactic in enumerate(tactic_ids):
            y = np.array([tactic in row for row in labels])
            if y.any() and not y.all():
                model = LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced", random_state=seed).fit(x, y)
                coef[:, k], intercept[k] = model.coef_[0], model.intercept_[0]
        vocabulary = {gram: int(i) for gram, i in vectorizer.vocabulary_.items()}
        return cls(vocabulary, vectorizer.idf_.astype(np.float32), coef, intercept, list(tactic_ids))

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


def choose_weight(gold: list[list[str]], neural: np.ndarray, lexical: np.ndarray, tactic_ids: Sequence[str],
                  grid: Sequence[float] = tuple(np.round(np.arange(0.0, 0.81, 0.1), 2))) -> tuple[float, dict]:
    """The mixing weight with the best dev tactic F1 (mean of micro and macro, thresholds fitted at each weight)."""
    from analyzer.model.calibration import selection_score

    scores = {}
    for weight in grid:
        probs = [dict(zip(tactic_ids, row)) for row in mix(neural, lexical, weight).tolist()]
        scores[float(weight)] = selection_score(gold, probs, tactic_ids)
    return max(scores, key=scores.get), scores


def turn_texts_and_labels(dialogues: list[dict]) -> tuple[list[str], list[list[str]]]:
    turns = [t for d in dialogues for t in d["turns"]]
    return [t["text"] for t in turns], [t.get("tactics") or [] for t in turns]


def attach(backend, train: list[dict], dev: list[dict], seed: int = 0) -> dict:
    """Fit the channel on `train`, pick its weight on `dev` and attach both to a NeuralBackend (and its config)."""
    from analyzer.model.train import evaluate_split

    texts, labels = turn_texts_and_labels(train)
    ids = list(backend.model.config.tactic_ids)
    lexical = LexicalTactics.fit(texts, labels, ids, seed=seed)
    backend.set_lexical(None, 0.0)
    neural = np.array([[p[t] for t in ids] for s in evaluate_split(backend, dev) for p in s.tactics])
    dev_texts, dev_gold = turn_texts_and_labels(dev)
    weight, scores = choose_weight(dev_gold, neural, lexical.predict(dev_texts), ids)
    backend.set_lexical(lexical, weight)
    return {"lexical_weight": weight, "dev_tactic_f1_by_weight": scores, "lexical_ngrams": len(lexical.vocabulary)}


def add_to_folder(model_dir: str | Path) -> dict:
    """Add the channel to a saved model folder, then calibrate the folder again on dev (its thresholds change)."""
    from analyzer.corpus import load_split
    from analyzer.model.calibration import recalibrate
    from analyzer.model.inference import NeuralBackend

    folder = Path(model_dir)
    backend = NeuralBackend.from_pretrained(folder)
    meta_path = folder / "training_args.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    report = attach(backend, load_split("train"), load_split("dev"), seed=meta.get("seed", 0))
    backend.lexical.save(folder)
    config = json.loads((folder / "config.json").read_text())
    config["lexical_weight"] = report["lexical_weight"]
    (folder / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    if meta:
        meta["lexical"] = {**report, "added_with": f"python -m analyzer.model.lexical {folder}"}
        meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    recalibrate(folder)
    return report


if __name__ == "__main__":
    import sys
    print(add_to_folder(sys.argv[1] if len(sys.argv) > 1 else "models/scam-tagger-zh"))
