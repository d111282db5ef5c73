"""The keyword analyzer as a backend of the Analyzer facade."""
from __future__ import annotations

from typing import Sequence

from analyzer import rules
from analyzer.decision import Decision
from analyzer.predict import DialogueScores
from analyzer.schema import Dialogue


class RulesBackend:
    name = "keyword-rules"

    def __init__(self):
        self.decision = Decision()

    def start(self):
        return rules.RuleState()

    def step(self, state, speaker: str, text: str):
        tactics, risk = rules.step(state, text)
        return state, tactics, risk, None

    def score_many(self, dialogues: Sequence[Dialogue]) -> list[DialogueScores]:
        out = []
        for dialogue in dialogues:
            state, tactics, risks = self.start(), [], []
            for turn in dialogue.turns:
                state, t, r, _ = self.step(state, turn.speaker, turn.text)
                tactics.append(t)
                risks.append(r)
            out.append(DialogueScores(tactics, risks, None))
        return out
