"""Typed dialogues and predictions: the one place that knows the formats' fields."""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from analyzer.taxonomy import TACTIC_IDS, RiskLevel, unknown_tactics

MAX_TURN_CHARS = 20_000  # a turn longer than this is not a transcript turn (5 MB pastes, binary junk)


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speaker: str
    text: str
    tactics: Optional[list[str]] = None

    @field_validator("text")
    @classmethod
    def _text_fits(cls, text: str) -> str:
        if len(text) > MAX_TURN_CHARS:
            raise ValueError(f"turn text is {len(text):,} characters, over the limit of {MAX_TURN_CHARS:,}")
        return text

    @field_validator("tactics")
    @classmethod
    def _known_tactics(cls, tactics):
        if tactics is not None:
            bad = unknown_tactics(tactics)
            if bad:
                raise ValueError(f"unknown tactic id(s) {', '.join(bad)}; known: {', '.join(TACTIC_IDS)}")
        return tactics


class Dialogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    turns: list[Turn] = Field(min_length=1)
    label: Optional[Literal["scam", "benign"]] = None
    scam_type: Optional[str] = None
    source: Optional[str] = None
    meta: dict[str, Any] = Field(default_factory=dict)

    def to_dict(self) -> dict:
        return self.model_dump(exclude_none=True)


class TurnPrediction(BaseModel):
    index: int
    speaker: str
    tactics: dict[str, float]
    predicted: list[str]
    risk: float  # the call's running risk after this turn


class TurnUpdate(TurnPrediction):
    """What a live session reports after each new turn: the turn, and the call's verdict so far."""
    risk_level: RiskLevel
    alert: bool
    alert_turn: Optional[int]

    def to_dict(self) -> dict:
        return self.model_dump()


class Prediction(BaseModel):
    id: str
    scam_probability: float = Field(ge=0.0, le=1.0)
    is_scam: bool
    risk_level: RiskLevel
    alert_turn: Optional[int]
    alert_evidence: list[dict] = Field(default_factory=list)  # [{"turn", "tactics"}] that raised the alert
    scam_type: Optional[str]
    turns: list[TurnPrediction]
    model: Optional[str] = None

    def to_dict(self) -> dict:
        return self.model_dump(exclude_none=False, exclude={"model"} if self.model is None else set())

