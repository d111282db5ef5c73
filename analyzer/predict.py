"""What a backend computes and how it becomes the Prediction schema; the verdict itself lives in analyzer.decision."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Sequence

from analyzer.decision import Decision, run_verdict
from analyzer.schema import Dialogue, Prediction, TurnPrediction


@dataclass
class DialogueScores:
    """What a backend computes for one dialogue: tactic probabilities and its own context risk per turn."""
    tactics: list[dict[str, float]]
    risks: list[float]
    scam_type: Optional[str] = None


class Backend(Protocol):
    name: str
    decision: Decision

    def score_many(self, dialogues: Sequence[Dialogue]) -> list[DialogueScores]: ...

    def start(self): ...

    def step(self, state, speaker: str, text: str) -> tuple[object, dict[str, float], float, Optional[str]]: ...


def rounded(tactics: dict[str, float]) -> dict[str, float]:
    return {t: round(float(p), 4) for t, p in tactics.items()}


def assemble(dialogue: Dialogue, scores: DialogueScores, decision: Decision, model: Optional[str] = None) -> Prediction:
    """The batch schema for one call: each turn's running risk, the peak as the call's probability, one verdict."""
    verdict, running = run_verdict(decision, scores.tactics, scores.risks)
    turns = [TurnPrediction(index=i, speaker=turn.speaker, tactics=rounded(tactics),
                            predicted=decision.predicted(tactics), risk=round(risk, 4))
             for i, (turn, tactics, risk) in enumerate(zip(dialogue.turns, scores.tactics, running))]
    return Prediction(id=dialogue.id, scam_probability=round(min(1.0, max(0.0, verdict.risk)), 4),
                      is_scam=verdict.is_scam, risk_level=verdict.risk_level, alert_turn=verdict.alert_turn,
                      alert_evidence=verdict.alert_evidence, scam_type=scores.scam_type if verdict.is_scam else None,
                      turns=turns, model=model)
