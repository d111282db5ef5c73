"""The LLM classifying alone (no tagger findings), as a baseline Backend for the evaluation suite.

It reads the whole call at once, so its running risk is only known at the last turn: earlier turns get 0, and the
early-warning figures show what reading after the fact costs. An answer that cannot be parsed or validated raises,
so the suite counts it as failed, never as benign.
"""
from __future__ import annotations

from typing import Sequence

from analyzer.decision import Decision
from analyzer.predict import DialogueScores
from analyzer.schema import Dialogue
from analyzer.taxonomy import TACTIC_IDS

NO_FINDINGS = '{"note": "没有检测模型的结果，请只根据通话记录独立判断"}'


class LLMBackend:
    def __init__(self, llm=None):
        from analyzer.chain import make_explainer
        self.explainer = make_explainer(llm)
        if self.explainer.llm is None:
            raise ValueError("the llm baseline needs a configured LLM (--llm or $SCAM_ANALYZER_LLM)")
        self.name = f"llm-alone:{self.explainer.backend}"
        self.decision = Decision()

    def score_many(self, dialogues: Sequence[Dialogue]) -> list[DialogueScores]:
        out = []
        for dialogue in dialogues:
            answer, _usage, detail, _ = self.explainer.ask(dialogue, NO_FINDINGS)
            if answer is None:
                raise RuntimeError(detail or "no answer")
            probability = {"scam": answer.confidence, "benign": 1 - answer.confidence, "uncertain": 0.5}[answer.verdict]
            tactics = [{t: 0.0 for t in TACTIC_IDS} for _ in dialogue.turns]
            for step in answer.steps:
                for turn in step.turns:
                    tactics[turn][step.tactic] = 1.0
            risks = [0.0] * (len(dialogue.turns) - 1) + [probability]
            out.append(DialogueScores(tactics, risks, None))
        return out

    def start(self):
        raise NotImplementedError("the LLM baseline reads whole calls; it has no live mode")

    def step(self, state, speaker, text):
        raise NotImplementedError("the LLM baseline reads whole calls; it has no live mode")
