"""`Analyzer`: the one facade every face (CLI, web demo, service) goes through."""
from __future__ import annotations

import asyncio

from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from analyzer.decision import RunningVerdict
from analyzer.predict import Backend, DialogueScores, assemble, rounded
from analyzer.schema import Dialogue, Prediction, Turn, TurnUpdate

RULES = "rules"
DEFAULT = "default"
RUNTIMES = ("auto", "torch", "onnx")


def auto_runtime(path: str | Path | None = None, device: str = "cpu") -> str:
    """The runtime "auto" means for a model: ONNX when its folder has an export (made from its current weights) and
    onnxruntime is installed and the device is the CPU, else torch when torch is installed, else ONNX (whose error
    then says how to export)."""
    from importlib.util import find_spec

    from analyzer.model.onnx_runtime import ENCODER_FILES, ONNX_DIR, STEP_FILE, is_stale
    from analyzer.paths import DEFAULT_MODEL_DIR

    folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
    onnx_dir = folder / ONNX_DIR
    exported = (onnx_dir / STEP_FILE).exists() and any((onnx_dir / f).exists() for f in ENCODER_FILES.values())
    has_torch = find_spec("torch") is not None and find_spec("transformers") is not None
    if exported and device == "cpu" and find_spec("onnxruntime") is not None and not (has_torch and is_stale(folder)):
        return "onnx"
    return "torch" if has_torch else "onnx"


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
    def from_pretrained(cls, path: str | Path | None = None, device: str = "cpu", runtime: str = "auto",
                        precision: str = "auto", threads: int = 0) -> "Analyzer":
        """`None` or "default" loads the shipped default model, `"rules"` the keyword baseline, else a model folder.

        runtime: "onnx" runs the folder's ONNX export (onnx/, written by the release step) with onnxruntime, numpy and
        `tokenizers` only, no torch; `precision` picks its encoder ("int8", "fp32"; "auto": what the export chose).
        "torch" runs the weights with torch and transformers (`pip install scam-analyzer[torch]`). "auto" (default):
        ONNX when the folder has an export and onnxruntime is installed, else torch. `threads` caps onnxruntime's
        threads (0: its default); torch's are set with torch.set_num_threads.
        """
        from analyzer.model.errors import ModelLoadError

        if path is not None and str(path) in ("", DEFAULT):
            path = None
        if path is not None and str(path) == RULES:
            from analyzer.rules_backend import RulesBackend
            return cls(RulesBackend())
        if runtime not in RUNTIMES:
            raise ModelLoadError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
        if runtime == "auto":
            runtime = auto_runtime(path, device)
        if runtime == "onnx":
            from analyzer.model.onnx_runtime import OnnxBackend
            return cls(OnnxBackend.from_pretrained(path, precision=precision, threads=threads))
        try:
            from analyzer.model.inference import NeuralBackend
        except ImportError as err:
            raise ModelLoadError(f"the torch runtime needs `pip install 'scam-analyzer[torch]'` ({err.name} is not "
                                 "installed); or use --runtime onnx with an exported model folder") from None
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
        """The explanation chain for a backend spec ('none', 'local', 'openai:MODEL', ...) or a LangChain chat model;
        its `chain` is the LangChain runnable {"dialogue", "prediction"} -> Explanation."""
        from analyzer.chain import make_explainer
        return make_explainer(llm, **kwargs)

    def explain(self, dialogue: Dialogue | dict, llm=None, prediction: Optional[Prediction] = None, **kwargs):
        """Analyze (unless a prediction is given) and explain step by step, citing turns, through the chain."""
        dialogue = dialogue if isinstance(dialogue, Dialogue) else Dialogue.model_validate(dialogue)
        return self.explainer(llm, **kwargs).invoke({"dialogue": dialogue,
                                                    "prediction": prediction or self.analyze(dialogue)})
