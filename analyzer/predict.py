"""Turn per-turn scores into the Prediction schema; shared by every backend so the rules stay in one place."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Protocol, Sequence

from analyzer.schema import Dialogue, Prediction, TurnPrediction
from analyzer.taxonomy import TACTIC_IDS, risk_level


@dataclass
class Decision:
    """Thresholds that turn probabilities into decisions; calibrated models save their own."""
    tactic_thresholds: dict[str, float] = field(default_factory=lambda: {t: 0.5 for t in TACTIC_IDS})
    alert_threshold: float = 0.5
    scam_threshold: float = 0.5
    caution: float = 0.3
    danger: float = 0.6

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Decision":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def predicted(self, tactics: dict[str, float]) -> list[str]:
        return [t for t in TACTIC_IDS if tactics.get(t, 0.0) >= self.tactic_thresholds.get(t, 0.5)]


@dataclass
class DialogueScores:
    """What a backend computes for one dialogue: tactic probabilities and running risk per turn."""
    tactics: list[dict[str, float]]
    risks: list[float]
    scam_type: Optional[str] = None


class Backend(Protocol):
    name: str
    decision: Decision

    def score_many(self, dialogues: Sequence[Dialogue]) -> list[DialogueScores]: ...

    def start(self): ...

    def step(self, state, speaker: str, text: str) -> tuple[object, dict[str, float], float, Optional[str]]: ...


def first_alert(risks: Sequence[float], threshold: float) -> Optional[int]:
    return next((i for i, r in enumerate(risks) if r >= threshold), None)


def assemble(dialogue: Dialogue, scores: DialogueScores, decision: Decision, model: Optional[str] = None) -> Prediction:
    probability = float(min(1.0, max(0.0, scores.risks[-1])))
    is_scam = probability >= decision.scam_threshold
    turns = [TurnPrediction(index=i, speaker=turn.speaker, tactics={t: round(float(p), 4) for t, p in tactics.items()},
                            predicted=decision.predicted(tactics), risk=round(float(risk), 4))
             for i, (turn, tactics, risk) in enumerate(zip(dialogue.turns, scores.tactics, scores.risks))]
    return Prediction(id=dialogue.id, scam_probability=round(probability, 4), is_scam=is_scam,
                      risk_level=risk_level(probability, decision.caution, decision.danger),
                      alert_turn=first_alert(scores.risks, decision.alert_threshold),
                      scam_type=scores.scam_type if is_scam else None, turns=turns, model=model)
