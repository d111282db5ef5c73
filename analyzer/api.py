"""`Analyzer`: the one facade every face (CLI, web demo, service) goes through."""
from __future__ import annotations

import asyncio

from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from analyzer.decision import RunningVerdict
from analyzer.predict import Backend, DialogueScores, assemble, rounded
from analyzer.schema import Dialogue, Prediction, Turn, TurnUpdate

RULES = "rules"


class LiveSession:
    """A call in progress: feed turns one at a time; each update reads only the new turn and a bounded state."""

    def __init__(self, analyzer: "Analyzer", dialogue_id: str = "live"):
        self._analyzer = analyzer
        self._backend = analyzer.backend
        self._state = self._backend.start()
        self._verdict = RunningVerdict(self._backend.decision)
        self.dialogue_id = dialogue_id
        self.turns: list[Turn] = []
        self._tactics: list[dict[str, float]] = []
        self._risks: list[float] = []
        self._scam_type: Optional[str] = None

    @property
    def alert_turn(self) -> Optional[int]:
        return self._verdict.alert_turn

    def add_turn(self, speaker: str, text: str) -> TurnUpdate:
        turn = Turn(speaker=str(speaker), text=str(text))
        self._state, tactics, risk, scam_type = self._backend.step(self._state, turn.speaker, turn.text)
        running = self._verdict.update(tactics, risk)
        self.turns.append(turn)
        self._tactics.append(tactics)
        self._risks.append(risk)
        self._scam_type = scam_type
        return TurnUpdate(index=len(self.turns) - 1, speaker=turn.speaker, tactics=rounded(tactics),
                          predicted=self._backend.decision.predicted(tactics), risk=round(running, 4),
                          risk_level=self._verdict.risk_level, alert=self._verdict.is_scam,
                          alert_turn=self._verdict.alert_turn)

    def prediction(self) -> Prediction:
        """The whole call so far in the batch schema (the same rule as batch mode, so the same answer)."""
        if not self.turns:
            raise ValueError("the live session has no turns yet")
        dialogue = Dialogue(id=self.dialogue_id, turns=list(self.turns))
        scores = DialogueScores(list(self._tactics), list(self._risks), self._scam_type)
        return assemble(dialogue, scores, self._backend.decision, self._analyzer.name)


class Analyzer:
    """Load a model (or the keyword rules) and analyze dialogues, in batch or live.

    >>> from analyzer import Analyzer
    >>> analyzer = Analyzer.from_pretrained("rules")
    >>> session = analyzer.live()
    >>> update = session.add_turn("客服", "您好，我是淘宝客服，您买的面霜检测出荧光剂超标，给您三倍赔偿")
    >>> sorted(update.predicted)
    ['impersonation', 'lure', 'pretext']
    """

    def __init__(self, backend: Backend):
        self.backend = backend

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def alert_threshold(self) -> float:
        """The running risk at which the alert fires (for plots)."""
        return self.backend.decision.alert_threshold

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str = "cpu", runtime: str = "torch") -> "Analyzer":
        """`None` loads the shipped default model, `"rules"` the keyword baseline, else a model folder.

        runtime "onnx" runs the folder's ONNX export (python -m analyzer.model.onnx_export) with onnxruntime.
        """
        if path is not None and str(path) == RULES:
            from analyzer.rules_backend import RulesBackend
            return cls(RulesBackend())
        if runtime == "onnx":
            from analyzer.model.onnx_export import OnnxBackend
            return cls(OnnxBackend.from_pretrained(path))
        from analyzer.model.inference import NeuralBackend
        return cls(NeuralBackend.from_pretrained(path, device=device))

    def analyze(self, dialogue: Dialogue | dict) -> Prediction:
        return self.analyze_many([dialogue])[0]

    def analyze_many(self, dialogues: Iterable[Dialogue | dict], batch_size: int = 16) -> list[Prediction]:
        return list(self.iter_analyze(dialogues, batch_size=batch_size))

    def iter_analyze(self, dialogues: Iterable[Dialogue | dict], batch_size: int = 16) -> Iterator[Prediction]:
        """Stream predictions in input order, holding at most one batch in memory."""
        batch: list[Dialogue] = []
        for item in dialogues:
            batch.append(item if isinstance(item, Dialogue) else Dialogue.model_validate(item))
            if len(batch) >= batch_size:
                yield from self._predict_batch(batch)
                batch = []
        if batch:
            yield from self._predict_batch(batch)

    def _predict_batch(self, batch: Sequence[Dialogue]) -> list[Prediction]:
        scores = self.backend.score_many(batch)
        return [assemble(d, s, self.backend.decision, self.name) for d, s in zip(batch, scores)]

    def live(self, dialogue_id: str = "live") -> LiveSession:
        return LiveSession(self, dialogue_id)

    # ------------------------------------------------------------ async twins (the model runs in a worker thread)
    async def aanalyze(self, dialogue: Dialogue | dict) -> Prediction:
        return await asyncio.to_thread(self.analyze, dialogue)

    async def aanalyze_many(self, dialogues: Iterable[Dialogue | dict], batch_size: int = 16) -> list[Prediction]:
        return await asyncio.to_thread(self.analyze_many, list(dialogues), batch_size)

    # ------------------------------------------------------------ the Runnable protocol (LangChain's names)
    def invoke(self, dialogue: Dialogue | dict, config=None) -> Prediction:
        return self.analyze(dialogue)

    def batch(self, dialogues: list, config=None) -> list[Prediction]:
        return self.analyze_many(dialogues)

    def stream(self, dialogue: Dialogue | dict, config=None) -> Iterator[TurnUpdate]:
        """Live updates, one per turn, as if the call were happening now."""
        dialogue = dialogue if isinstance(dialogue, Dialogue) else Dialogue.model_validate(dialogue)
        session = self.live(dialogue.id)
        for turn in dialogue.turns:
            yield session.add_turn(turn.speaker, turn.text)

    async def ainvoke(self, dialogue: Dialogue | dict, config=None) -> Prediction:
        return await self.aanalyze(dialogue)

    async def abatch(self, dialogues: list, config=None) -> list[Prediction]:
        return await self.aanalyze_many(dialogues)

    def as_runnable(self):
        """This analyzer as a LangChain Runnable (invoke, batch, ainvoke, abatch) to compose into chains; needs
        langchain-core (the `llm` extra). `as_live_runnable()` streams the live updates instead."""
        from langchain_core.runnables import RunnableLambda
        return RunnableLambda(self.analyze, afunc=self.aanalyze, name="scam-analyzer")

    def as_live_runnable(self):
        """A LangChain Runnable whose `stream` yields one TurnUpdate per turn of each input dialogue."""
        from langchain_core.runnables import RunnableGenerator

        def updates(dialogues):
            for dialogue in dialogues:
                yield from self.stream(dialogue)
        return RunnableGenerator(updates, name="scam-analyzer-live")

    def explainer(self, llm=None, **kwargs):
        """The explanation chain for a backend spec ('none', 'openai:MODEL', ...) or a LangChain chat model."""
        from analyzer.chain import make_explainer
        return make_explainer(llm, **kwargs)

    def explain(self, dialogue: Dialogue | dict, llm=None, prediction: Optional[Prediction] = None):
        """Analyze (unless a prediction is given) and explain step by step, citing turns."""
        dialogue = dialogue if isinstance(dialogue, Dialogue) else Dialogue.model_validate(dialogue)
        return self.explainer(llm).explain(dialogue, prediction or self.analyze(dialogue))
