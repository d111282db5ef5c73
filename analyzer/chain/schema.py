"""The explanation's typed structure: what every backend (LLM or grounded) must produce."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

from analyzer.taxonomy import RiskLevel

Verdict = Literal["scam", "benign", "uncertain"]


class Step(BaseModel):
    turns: list[int] = Field(description="0-based indexes of the cited turns")
    tactic: str = Field(description="tactic id from the taxonomy")
    quote: str = Field(description="a verbatim substring of the first cited turn")
    reasoning: str


class LLMAnswer(BaseModel):
    """What the LLM is asked to return (parsed from its JSON)."""
    verdict: Verdict
    risk_level: Literal["safe", "caution", "danger"]
    steps: list[Step] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0, description="the probability that your own verdict is right")
    override_reason: Optional[str] = Field(default=None, description="why the LLM disagrees with a high model risk")


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    attempts: int = 0


class Explanation(BaseModel):
    """The final explanation shown to people: the LLM's reading combined with the model's score."""
    id: str
    verdict: Verdict
    risk_level: RiskLevel
    steps: list[Step]
    advice: list[str]
    confidence: float
    model_probability: Optional[float] = None
    model_verdict: Optional[Verdict] = None
    llm_verdict: Optional[Verdict] = None
    override_reason: Optional[str] = None
    backend: str
    written_by_llm: bool
    status: Literal["ok", "repaired", "fallback", "grounded"]
    status_detail: Optional[str] = None
    usage: Usage = Field(default_factory=Usage)

    def to_dict(self) -> dict:
        return self.model_dump()
