"""Character n-gram TF-IDF with logistic regression (scikit-learn): a trained baseline with the Backend interface.

One classifier reads the dialogue so far (all turns up to t) and gives the running risk; the tactics come from the
same character n-gram channel the tagger mixes in (analyzer.training.lexical_fit). Thresholds are fitted on dev, and
the verdict follows the one rule of analyzer.decision, so the comparison is fair.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


from analyzer.corpus import gold_tactics
from analyzer.decision import Decision
from analyzer.normalize import normalize_text
from analyzer.predict import DialogueScores
from analyzer.schema import Dialogue
from analyzer.taxonomy import TACTIC_IDS


def _prefix_texts(turns) -> list[str]:
    out, acc = [], []
    for t in turns:
        acc.append(f"{t['speaker'] if isinstance(t, dict) else t.speaker}：{t['text'] if isinstance(t, dict) else t.text}")
        out.append("\n".join(acc[-30:]))
    return out


@dataclass
class TfidfState:
    turns: list = field(default_factory=list)


class TfidfBackend:
    name = "tfidf-logreg"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.decision = Decision()

    def fit(self, train: list[dict], dev: list[dict] | None = None) -> "TfidfBackend":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from analyzer.training.lexical_fit import fit_lexical, turn_texts_and_labels

        texts, tactic_labels = turn_texts_and_labels(train)
        self.lexical = fit_lexical(texts, tactic_labels, TACTIC_IDS, seed=self.seed)
        prefixes, labels = [], []
        for d in train:
            texts = _prefix_texts(d["turns"])
            prefixes += texts
            labels += [int(d["label"] == "scam")] * len(texts)
        self.dialogue_vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True,
                                            max_features=200_000)
        x = self.dialogue_vec.fit_transform(prefixes)
        self.dialogue_model = LogisticRegression(max_iter=2000, C=4.0, random_state=self.seed).fit(x, labels)
        if dev:
            from analyzer.training.calibration import fit_tactic_thresholds
            from analyzer.training.verdict import fit_alert_threshold
            scores = self.score_many([Dialogue.model_validate(d) for d in dev])
            self.decision.tactic_thresholds = fit_tactic_thresholds(
                [g for d in dev for g in gold_tactics(d)], [p for s in scores for p in s.tactics])
            self.decision.alert_threshold = fit_alert_threshold(self.decision, dev, scores)
        return self

    def _score_turns(self, texts: list[str], prefixes: list[str]):
        probs = self.lexical.predict([normalize_text(t) for t in texts])
        risks = self.dialogue_model.predict_proba(self.dialogue_vec.transform(prefixes))[:, 1]
        return [dict(zip(TACTIC_IDS, row)) for row in probs.tolist()], risks.tolist()

    def score_many(self, dialogues: Sequence[Dialogue]) -> list[DialogueScores]:
        texts, prefixes, counts = [], [], []
        for d in dialogues:
            texts += [t.text for t in d.turns]
            prefixes += _prefix_texts(d.turns)
            counts.append(len(d.turns))
        tactics, risks = self._score_turns(texts, prefixes)
        out, start = [], 0
        for n in counts:
            out.append(DialogueScores(tactics[start:start + n], risks[start:start + n], None))
            start += n
        return out

    def start(self) -> TfidfState:
        return TfidfState()

    def step(self, state: TfidfState, speaker: str, text: str):
        state = TfidfState(turns=state.turns + [{"speaker": speaker, "text": text}])
        tactics, risks = self._score_turns([text], _prefix_texts(state.turns)[-1:])
        return state, tactics[0], risks[0], None
