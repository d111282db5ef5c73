"""The torch-free runtime: a released model folder run with onnxruntime, numpy and `tokenizers` only.

It reproduces analyzer.model.inference.NeuralBackend: the same tokenizer (the folder's tokenizer.json, truncated at
`max_turn_tokens`), the same turn text (normalised, no speaker name: `encoder_text`), the party bit (the speaker is
the call's first speaker), the lexical channel mixed in at `lexical_weight`, the risk temperature and the scam type
(argmax at the last turn). Everything is read from the folder's config.json as plain JSON; nothing here imports torch
or transformers, so `pip install scam-analyzer` (no extras) can analyze with the shipped model.

The graphs come from analyzer.model.onnx_export (the release step): the encoder, fp32 or dynamic int8, and the step
graph (the causal GRU and the heads over T turns from a given state: T = 1 per live turn, the whole call in batch).
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from analyzer.decision import Decision
from analyzer.model.errors import ModelLoadError
from analyzer.model.lexical import LexicalTactics, mix
from analyzer.normalize import normalize_text
from analyzer.predict import DialogueScores
from analyzer.schema import Dialogue

ONNX_DIR = "onnx"
ENCODER_FILES = {"fp32": "encoder.onnx", "int8": "encoder.int8.onnx"}
STEP_FILE = "step.onnx"
EXPORT_FILE = "export.json"
WEIGHTS_FILE = "model.safetensors"  # the torch weights an export was made from (export.json records their sha256)
PRECISIONS = ("auto", "int8", "fp32")
MODEL_TYPE = "scam-dialogue-tagger"
CHUNK = 8  # turns per encoder call, sorted by length: little padding, and onnxruntime's int8 kernels run fastest on
# small batches here (test split, 1 thread: 39 dialogues/s at 8, 37.6 at 16, 26.6 at 64; torch is flat at about 13)


def encoder_text(text: str) -> str:
    """How a turn is shown to the encoder and the lexical channel (the same as inference.encoder_text)."""
    return normalize_text(text)


def export_hint(folder: Path) -> str:
    return (f"export it with `python -m analyzer.model.onnx_export {folder}` (needs `pip install "
            f"scam-analyzer[torch,onnx]`), or use --runtime torch")


@dataclass
class LiveState:
    first_speaker: Optional[str] = None
    hidden: Optional[np.ndarray] = None  # (1, 1, context_size): the GRU state after the turns so far


class OnnxBackend:
    """The Backend protocol of analyzer.predict (name, decision, score_many, start, step) on onnxruntime."""

    def __init__(self, folder: Path, config: dict, tokenizer, encoder, stepper, name: str,
                 lexical: Optional[LexicalTactics] = None, precision: str = "fp32"):
        self.folder = folder
        self.config = config
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.stepper = stepper
        self.name = name
        self.precision = precision
        self.decision = Decision.from_dict(config["decision"]) if config.get("decision") else Decision()
        self.tactic_ids = list(config["tactic_ids"])
        self.scam_types = list(config["scam_types"])
        self.risk_temperature = float(config.get("risk_temperature", 1.0))
        self.context_size = int(config["context_size"])
        self.lexical = lexical
        self.lexical_weight = float(config.get("lexical_weight", 0.0)) if lexical is not None else 0.0
        self.pad_id = _pad_id(folder, tokenizer, config)
        # an older export's step graph takes one turn at a time; the current one takes a whole call
        turns_dim = stepper.get_inputs()[0].shape[0]
        self.step_takes_sequences = not isinstance(turns_dim, int)
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, precision: str = "auto",
                        threads: int = 0) -> "OnnxBackend":
        """A model folder with an onnx/ export; precision "auto" runs what the export chose (int8 when it kept
        parity); threads caps onnxruntime's intra-op threads (0: its default)."""
        from analyzer.paths import DEFAULT_MODEL_DIR

        if precision not in PRECISIONS:
            raise ModelLoadError(f"unknown ONNX precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
        if not folder.is_dir():
            raise ModelLoadError(f"model folder {folder} does not exist; the ONNX runtime needs a local model folder "
                                 "(the shipped one, or one written by `python -m analyzer train` and `release`)")
        config = _read_config(folder)
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelLoadError("the ONNX runtime needs onnxruntime: `pip install onnxruntime` "
                                 "(or use --runtime torch)") from None
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ModelLoadError("the ONNX runtime needs tokenizers: `pip install tokenizers`") from None
        onnx_dir = folder / ONNX_DIR
        encoder_path = onnx_dir / ENCODER_FILES[_choose_precision(onnx_dir, precision)]
        chosen = "int8" if encoder_path.name == ENCODER_FILES["int8"] else "fp32"
        for needed in (encoder_path, onnx_dir / STEP_FILE):
            if not needed.exists():
                raise ModelLoadError(f"{folder} has no ONNX export ({needed.relative_to(folder)} is missing); "
                                     f"{export_hint(folder)}")
        if is_stale(folder):
            raise ModelLoadError(f"{onnx_dir} is stale: it was exported from other weights than {folder.name}/"
                                 f"{WEIGHTS_FILE}; {export_hint(folder)}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        sessions = []
        for file, inputs in ((encoder_path, {"input_ids", "attention_mask"}), (onnx_dir / STEP_FILE,
                                                                               {"vector", "first", "hidden"})):
            try:
                session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
            except Exception as err:  # truncated or corrupt file, an opset this onnxruntime lacks
                raise ModelLoadError(f"cannot load {file}: {type(err).__name__}: {_first_line(err)}; "
                                     f"{export_hint(folder)}") from None
            if {i.name for i in session.get_inputs()} != inputs:
                raise ModelLoadError(f"{file} is not an export of this tagger (inputs "
                                     f"{sorted(i.name for i in session.get_inputs())}); {export_hint(folder)}")
            sessions.append(session)
        try:
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as err:
            raise ModelLoadError(f"cannot load {folder / 'tokenizer.json'}: {type(err).__name__}: "
                                 f"{_first_line(err)}") from None
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(config.get("max_turn_tokens", 64)))
        try:
            lexical = LexicalTactics.from_pretrained(folder)
        except Exception as err:
            raise ModelLoadError(f"cannot load the lexical channel in {folder}: {type(err).__name__}: "
                                 f"{_first_line(err)}") from None
        meta = folder / "training_args.json"
        version = json.loads(meta.read_text()).get("version") if meta.exists() else None
        name = folder.name + (f"@{version}" if version else "") + ("+onnx-int8" if chosen == "int8" else "+onnx")
        return cls(folder, config, tokenizer, sessions[0], sessions[1], name, lexical, chosen)

    # ---------------------------------------------------------------- shared pieces
    def tactic_rows(self, neural: np.ndarray, texts: list[str]) -> list[dict[str, float]]:
        """Per-turn tactic probabilities of already normalised texts: the neural ones, mixed with the lexical
        channel's when there is one."""
        if self.lexical is not None and self.lexical_weight > 0:
            neural = mix(neural, self.lexical.predict(texts), self.lexical_weight)
        return [dict(zip(self.tactic_ids, row)) for row in neural.tolist()]

    def encode(self, texts: list[str], chunk: int = CHUNK) -> np.ndarray:
        """(N, H) turn vectors of already normalised texts."""
        with self._lock:
            ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        vectors: Optional[np.ndarray] = None
        for start in range(0, len(order), chunk):
            rows = order[start:start + chunk]
            width = max(len(ids[i]) for i in rows)
            input_ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1
            out = self.encoder.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
            if vectors is None:
                vectors = np.empty((len(ids), out.shape[1]), dtype=np.float32)
            vectors[rows] = out
        return vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)

    def _advance(self, vectors: np.ndarray, first: np.ndarray, hidden: np.ndarray):
        """GRU and heads over (T, H) vectors from state `hidden`: (T, K) probs, (T,) risk and (T, S) type logits."""
        if self.step_takes_sequences or len(vectors) == 1:
            probs, risk, types, hidden = self.stepper.run(None, {"vector": vectors, "first": first, "hidden": hidden})
            return probs, risk.reshape(-1), types, hidden
        probs, risks, types = [], [], []
        for i in range(len(vectors)):
            p, r, t, hidden = self._advance(vectors[i:i + 1], first[i:i + 1], hidden)
            probs.append(p)
            risks.append(r)
            types.append(t)
        return np.concatenate(probs), np.concatenate(risks), np.concatenate(types), hidden

    def _risk(self, logits: np.ndarray) -> np.ndarray:
        """The context risk, as torch computes it: sigmoid(logit / temperature) in float32."""
        scaled = logits.astype(np.float32) / np.float32(self.risk_temperature)
        return (np.float32(1.0) / (np.float32(1.0) + np.exp(-scaled))).astype(np.float32)

    def _initial(self) -> np.ndarray:
        return np.zeros((1, 1, self.context_size), dtype=np.float32)

    # ---------------------------------------------------------------- batch
    def score_many(self, dialogues: Sequence[Dialogue]) -> list[DialogueScores]:
        texts = [encoder_text(t.text) for d in dialogues for t in d.turns]  # normalised once, for both channels
        vectors = self.encode(texts)
        results, start = [], 0
        for d in dialogues:
            n = len(d.turns)
            if n == 0:
                results.append(DialogueScores([], [], None))
                continue
            opener = d.turns[0].speaker
            first = np.array([[float(t.speaker == opener)] for t in d.turns], dtype=np.float32)
            probs, risk_logits, type_logits, _ = self._advance(vectors[start:start + n], first, self._initial())
            results.append(DialogueScores(tactics=self.tactic_rows(probs, texts[start:start + n]),
                                          risks=self._risk(risk_logits).tolist(),
                                          scam_type=self.scam_types[int(np.argmax(type_logits[-1]))]))
            start += n
        return results

    # ---------------------------------------------------------------- live
    def start(self) -> LiveState:
        return LiveState()

    def step(self, state: LiveState, speaker: str, text: str):
        first_speaker = state.first_speaker if state.first_speaker is not None else speaker
        hidden = state.hidden if state.hidden is not None else self._initial()
        normalised = encoder_text(text)
        vector = self.encode([normalised])
        first = np.array([[float(speaker == first_speaker)]], dtype=np.float32)
        probs, risk_logits, type_logits, hidden = self._advance(vector, first, hidden)
        tactics = self.tactic_rows(probs, [normalised])[0]
        return (LiveState(first_speaker=first_speaker, hidden=hidden), tactics, float(self._risk(risk_logits)[0]),
                self.scam_types[int(np.argmax(type_logits[-1]))])


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.exists():
        raise ModelLoadError(f"model folder {folder} has no config.json; rebuild it with `make model`")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelLoadError(f"cannot read {path}: {type(err).__name__}: {_first_line(err)}") from None
    if config.get("model_type") != MODEL_TYPE:
        raise ModelLoadError(f"{folder} holds a {config.get('model_type')!r} model, not a {MODEL_TYPE}")
    missing = [k for k in ("tactic_ids", "scam_types", "context_size") if k not in config]
    if missing:
        raise ModelLoadError(f"{path} lacks {', '.join(missing)}; rebuild it with `make model`")
    return config


def weights_sha256(folder: Path) -> Optional[str]:
    """The sha256 of the folder's torch weights (what an export was made from), or None without them."""
    path = folder / WEIGHTS_FILE
    if not path.exists():
        return None
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # keyed on size and mtime: a changed file is hashed again
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_stale(folder: Path) -> bool:
    """True when the folder's onnx/ was exported from other weights than its model.safetensors (e.g. the weights were
    retrained or pulled since, and onnx/, which git ignores, stayed behind)."""
    try:
        recorded = json.loads((folder / ONNX_DIR / EXPORT_FILE).read_text()).get("weights_sha256")
    except (OSError, ValueError):
        return False
    current = weights_sha256(folder)
    return bool(recorded and current and recorded != current)


def _choose_precision(onnx_dir: Path, precision: str) -> str:
    """"auto": what the export recorded as its default (int8 when it stayed close to fp32), else int8 if present."""
    if precision != "auto":
        return precision
    try:
        chosen = json.loads((onnx_dir / EXPORT_FILE).read_text()).get("default_precision")
    except (OSError, ValueError):
        chosen = None
    if chosen in ENCODER_FILES and (onnx_dir / ENCODER_FILES[chosen]).exists():
        return chosen
    return "int8" if (onnx_dir / ENCODER_FILES["int8"]).exists() else "fp32"


def _pad_id(folder: Path, tokenizer, config: dict) -> int:
    """The tokenizer's pad token (tokenizer_config.json), as transformers' tokenizer pads."""
    token = "<pad>"
    try:
        token = json.loads((folder / "tokenizer_config.json").read_text()).get("pad_token") or token
        token = token["content"] if isinstance(token, dict) else token
    except (OSError, ValueError):
        pass
    found = tokenizer.token_to_id(token)
    return int(found if found is not None else config.get("encoder", {}).get("pad_token_id") or 0)
