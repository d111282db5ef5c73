"""The explanation's typed structure: what every backend (LLM or grounded) must produce."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

from analyzer.taxonomy import RiskLevel

Verdict = Literal["scam", "benign", "uncertain"]


class BackendError(ValueError):
    """An LLM backend that cannot be set up (unknown spec, missing package or model file)."""


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


def answer_json_schema(max_steps: int = 16, max_advice: int = 5) -> dict:
    """`LLMAnswer` as a self-contained JSON schema (no $ref) for constrained decoding: OpenAI-compatible
    `response_format: json_schema` and llama.cpp's grammar. Tactic ids and verdict words are enums and the lists are
    bounded; string lengths are not (a maxLength makes llama.cpp's grammar several times slower per token: the
    token budget bounds them). Range checks (confidence in [0, 1], cited turns that exist, verbatim quotes) stay with
    the validator, which checks every answer whatever the backend enforced."""
    from analyzer.taxonomy import TACTIC_IDS

    text = {"type": "string"}
    step = {"type": "object",
            "properties": {"turns": {"type": "array", "items": {"type": "integer", "minimum": 0},
                                     "minItems": 1, "maxItems": 3},
                           "tactic": {"type": "string", "enum": list(TACTIC_IDS)},
                           "quote": text,
                           "reasoning": text},
            "required": ["turns", "tactic", "quote", "reasoning"],
            "additionalProperties": False}
    return {"type": "object",
            "properties": {"verdict": {"type": "string", "enum": ["scam", "benign", "uncertain"]},
                           "risk_level": {"type": "string", "enum": ["safe", "caution", "danger"]},
                           "steps": {"type": "array", "items": step, "maxItems": max_steps},
                           "advice": {"type": "array", "items": text, "maxItems": max_advice},
                           "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                           "override_reason": {"anyOf": [text, {"type": "null"}]}},
            "required": ["verdict", "risk_level", "steps", "advice", "confidence", "override_reason"],
            "additionalProperties": False}
