"""Fit the lexical tactic channel (analyzer.model.lexical) and choose its mixing weight on the selection set."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from analyzer.corpus import gold_tactics
from analyzer.model.lexical import NGRAM_RANGE, LexicalTactics, mix
from analyzer.training.calibration import selection_score, score_dialogues


def fit_lexical(texts: Sequence[str], labels: Sequence[Sequence[str]], tactic_ids: Sequence[str],
                seed: int = 0) -> LexicalTactics:
    """One logistic regression per tactic over character n-gram TF-IDF (the same features the runtime computes)."""
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
    return LexicalTactics(vocabulary, vectorizer.idf_.astype(np.float32), coef, intercept, list(tactic_ids))


def choose_weight(gold: list[list[str]], neural: np.ndarray, lexical: np.ndarray, tactic_ids: Sequence[str],
                  grid: Sequence[float] = tuple(np.round(np.arange(0.0, 0.81, 0.1), 2))) -> tuple[float, dict]:
    """The mixing weight with the best dev tactic F1 (mean of micro and macro, thresholds fitted at each weight)."""
    scores = {}
    for weight in grid:
        probs = [dict(zip(tactic_ids, row)) for row in mix(neural, lexical, weight).tolist()]
        scores[float(weight)] = selection_score(gold, probs, tactic_ids)
    return max(scores, key=scores.get), scores


def turn_texts_and_labels(dialogues: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Normalised turn texts (as the runtime sees them) and their gold tactics."""
    from analyzer.normalize import normalize_text

    texts = [normalize_text(t["text"]) for d in dialogues for t in d["turns"]]
    return texts, [g for d in dialogues for g in gold_tactics(d)]


def attach(backend, train: list[dict], dev: list[dict], seed: int = 0) -> dict:
    """Fit the channel on `train`, pick its weight on `dev` and attach both to a NeuralBackend (and its config)."""
    texts, labels = turn_texts_and_labels(train)
    ids = list(backend.model.config.tactic_ids)
    lexical = fit_lexical(texts, labels, ids, seed=seed)
    backend.set_lexical(None, 0.0)
    neural = np.array([[p[t] for t in ids] for s in score_dialogues(backend, dev) for p in s.tactics])
    dev_texts, dev_gold = turn_texts_and_labels(dev)
    weight, scores = choose_weight(dev_gold, neural, lexical.predict(dev_texts), ids)
    backend.set_lexical(lexical, weight)
    return {"lexical_weight": weight, "dev_tactic_f1_by_weight": scores, "lexical_ngrams": len(lexical.vocabulary)}
