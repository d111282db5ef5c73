"""The one verdict rule: how tactic probabilities and a backend's risk become a running risk, an alert, a verdict and
a risk level. Every backend, face and the chain read these numbers; nothing else decides.

Why grounded in tactics: a risk learned end to end from the written corpus keyed on its surface (speaker names, who
speaks first, style) and missed unseen scam types whose tactics the tagger did find. Here the call's evidence is a
monotone function of the running maxima of the tactic probabilities (and, with a weight fitted on held-out kinds of
calls, the backend's own context risk), so evidence only accumulates: the risk never falls because the victim spoke,
and a request for a code or a transfer can never leave a call "safe".
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

from analyzer.taxonomy import HARM_TACTICS, TACTIC_IDS

# Features of a call so far; all are running maxima or built from them, so they never decrease.
MANIPULATION = tuple(t for t in TACTIC_IDS if t not in HARM_TACTICS)
FEATURES: tuple[str, ...] = tuple(f"max:{t}" for t in TACTIC_IDS) + ("harm_and_manipulation", "context_risk")


@dataclass
class Decision:
    """Thresholds and verdict weights; a calibrated model folder saves its own in config.json."""
    tactic_thresholds: dict[str, float] = field(default_factory=lambda: {t: 0.5 for t in TACTIC_IDS})
    alert_threshold: float = 0.5
    caution: float = 0.3
    min_turns: int = 3  # a call shorter than this, with no tactic found yet, is not enough to judge
    verdict_bias: Optional[float] = None  # None: the evidence is the backend's own running risk
    verdict_weights: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Decision":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def predicted(self, tactics: dict[str, float]) -> list[str]:
        return [t for t in TACTIC_IDS if tactics.get(t, 0.0) >= self.tactic_thresholds.get(t, 0.5)]

    def evidence(self, features: dict[str, float]) -> float:
        """P(scam | the call so far) from the features; the backend's context risk when no weights are fitted."""
        if self.verdict_bias is None:
            return features["context_risk"]
        z = self.verdict_bias + sum(w * features.get(name, 0.0) for name, w in self.verdict_weights.items())
        return 1.0 / (1.0 + math.exp(-z))


def call_features(maxima: dict[str, float], context_risk: float) -> dict[str, float]:
    """The verdict's features from the running tactic maxima and the running context risk."""
    out = {f"max:{t}": maxima.get(t, 0.0) for t in TACTIC_IDS}
    out["harm_and_manipulation"] = max(maxima.get(t, 0.0) for t in HARM_TACTICS) * \
        max(maxima.get(t, 0.0) for t in MANIPULATION)
    out["context_risk"] = context_risk
    return out


class RunningVerdict:
    """Reads a call turn by turn (batch and live alike) and keeps its risk, alert and evidence.

    The risk is the peak evidence so far; the alert fires at the first turn whose risk reaches the alert threshold
    once some tactic has been found; `is_scam` holds exactly when the alert has fired.
    """

    def __init__(self, decision: Decision):
        self.decision = decision
        self.maxima = {t: 0.0 for t in TACTIC_IDS}
        self.context_risk = 0.0
        self.risk = 0.0
        self.turns = 0
        self.alert_turn: Optional[int] = None
        self.evidence: list[dict] = []  # {"turn": i, "tactics": [...]} for turns with predicted tactics
        self.harm_seen = False

    def update(self, tactics: dict[str, float], backend_risk: float) -> float:
        """Add one turn; returns the running risk after it."""
        index = self.turns
        self.turns += 1
        for t in TACTIC_IDS:
            self.maxima[t] = max(self.maxima[t], float(tactics.get(t, 0.0)))
        self.context_risk = max(self.context_risk, float(backend_risk))
        self.risk = max(self.risk, self.decision.evidence(call_features(self.maxima, self.context_risk)))
        predicted = self.decision.predicted(tactics)
        if predicted:
            self.evidence.append({"turn": index, "tactics": predicted})
            if HARM_TACTICS & set(predicted):
                self.harm_seen = True
                self.risk = max(self.risk, self.decision.caution)  # a code or transfer request is never "safe"
        if self.alert_turn is None and self.evidence and self.risk >= self.decision.alert_threshold:
            self.alert_turn = index
        return self.risk

    @property
    def is_scam(self) -> bool:
        return self.alert_turn is not None

    @property
    def risk_level(self) -> str:
        if self.is_scam:
            return "danger"
        if self.harm_seen or self.risk >= self.decision.caution:
            return "caution"
        if not self.evidence and self.turns < self.decision.min_turns:
            return "insufficient"
        return "safe"

    @property
    def alert_evidence(self) -> list[dict]:
        """The turns and tactics that raised the alert (up to and including the alert turn)."""
        if self.alert_turn is None:
            return []
        return [e for e in self.evidence if e["turn"] <= self.alert_turn]


def run_verdict(decision: Decision, tactics: Sequence[dict[str, float]], risks: Sequence[float]) -> tuple[
        RunningVerdict, list[float]]:
    """The verdict over a whole call, and the running risk after each turn."""
    verdict, running = RunningVerdict(decision), []
    for row, risk in zip(tactics, risks):
        running.append(verdict.update(row, risk))
    return verdict, running


# How a verdict word and a risk level correspond, for the explanation chain and every face.
LEVEL_OF_VERDICT = {"scam": "danger", "uncertain": "caution", "benign": "safe"}


def verdict_of(is_scam: bool, risk_level: str) -> str:
    """The model's verdict word: "scam" exactly when it alerted; "uncertain" for caution or too little to judge."""
    if is_scam:
        return "scam"
    return "uncertain" if risk_level in ("caution", "insufficient") else "benign"
