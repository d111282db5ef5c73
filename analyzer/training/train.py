"""Fine-tune the tactic tagger: `python -m analyzer train`.

Seeded; the base encoder is truncated to its first `--layers` layers; gold dialogues teach tactics and risk, a
sample of the TeleAntiFraud silver set teaches risk only. The weights of the epoch with the best dev tactic F1 are
kept, then the lexical tactic channel (analyzer.model.lexical) is fitted. The dev split calibrates the risk
temperature and the thresholds, which are saved in the model's config. The output folder is a `save_pretrained`
folder (fp16, the vocabulary trimmed to the pieces Chinese text needs) with a model card.
"""
from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from analyzer import __version__
from analyzer.corpus import load_split
from analyzer.model.inference import NeuralBackend, turn_text
from analyzer.model.modeling import ScamTaggerConfig, ScamTaggerModel
from analyzer.model.train_args import TrainArgs
from analyzer.taxonomy import SCAM_TYPES, TACTIC_IDS


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_base(name: str, layers: int):
    """The encoder and tokenizer to start from: the derived e5 base, or any BERT-family checkpoint or folder."""
    from transformers import AutoModel, AutoTokenizer

    if name == "default":
        from analyzer.model.base import build_base
        name = str(build_base())
    encoder = AutoModel.from_pretrained(name, add_pooling_layer=False)
    tokenizer = AutoTokenizer.from_pretrained(name)
    if layers and layers < len(encoder.encoder.layer):
        encoder.encoder.layer = encoder.encoder.layer[:layers]
        encoder.config.num_hidden_layers = layers
    return encoder, tokenizer, name


def build_model(encoder, args: TrainArgs, base_name: str) -> ScamTaggerModel:
    enc_cfg = encoder.config.to_dict()
    config = ScamTaggerConfig(encoder=enc_cfg, tactic_ids=TACTIC_IDS, scam_types=tuple(SCAM_TYPES),
                              max_turn_tokens=args.max_turn_tokens, base_model=base_name)
    model = ScamTaggerModel(config)
    model.encoder.load_state_dict(encoder.state_dict(), strict=False)
    return model


def make_batches(dialogues: list[dict], max_turns: int, rng: random.Random) -> list[list[dict]]:
    order = dialogues[:]
    rng.shuffle(order)
    batches, current, size = [], [], 0
    for d in order:
        n = min(len(d["turns"]), max_turns)
        if current and size + n > max_turns:
            batches.append(current)
            current, size = [], 0
        current.append(d)
        size += n
    if current:
        batches.append(current)
    return batches


def collate(batch: list[dict], tokenizer, max_turns: int, max_tokens: int) -> dict:
    texts, first, tactic_rows, tactic_mask, counts, labels, types = [], [], [], [], [], [], []
    type_index = {t: i for i, t in enumerate(SCAM_TYPES)}
    for d in batch:
        turns = d["turns"][:max_turns]
        counts.append(len(turns))
        opener = turns[0]["speaker"]
        gold = d.get("source") != "silver"
        for t in turns:
            texts.append(turn_text(t["speaker"], t["text"]))
            first.append(float(t["speaker"] == opener))
            tactic_rows.append([float(x in (t.get("tactics") or [])) for x in TACTIC_IDS])
            tactic_mask.append(gold)
        labels.append(int(d["label"] == "scam"))
        types.append(type_index.get(d.get("scam_type"), -100) if d["label"] == "scam" else -100)
    enc = tokenizer(texts, truncation=True, max_length=max_tokens, padding=True, return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "turn_counts": counts,
            "first_speaker": torch.tensor(first), "tactic_labels": torch.tensor(tactic_rows),
            "tactic_mask": torch.tensor(tactic_mask), "dialogue_labels": torch.tensor(labels),
            "type_labels": torch.tensor(types)}


def silver_sample(n: int, rng: random.Random) -> list[dict]:
    if n <= 0:
        return []
    rows = load_split("silver")
    rng.shuffle(rows)
    return [{**d, "source": "silver"} for d in rows[:n]]


def shrink_vocabulary(model: ScamTaggerModel, tokenizer, texts: list[str], folder: Path):
    """Keep the pieces these texts use plus every single-character piece; slice the embeddings to match."""
    from transformers import PreTrainedTokenizerFast

    from analyzer.model.base import single_char_piece, trim_tokenizer

    used = set()
    for i in range(0, len(texts), 2000):
        for ids in tokenizer(texts[i:i + 2000])["input_ids"]:
            used.update(ids)
    tok_json = json.loads(tokenizer.backend_tokenizer.to_str())
    new_json, kept = trim_tokenizer(tok_json, keep=lambda i, piece: i in used or single_char_piece(i, piece))
    emb = model.encoder.embeddings.word_embeddings
    new_emb = torch.nn.Embedding(len(kept), emb.embedding_dim, padding_idx=kept.index(1) if 1 in kept else None)
    new_emb.weight.data = emb.weight.data[kept].clone()
    model.encoder.embeddings.word_embeddings = new_emb
    model.encoder.config.vocab_size = len(kept)
    model.config.encoder["vocab_size"] = len(kept)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(new_json, ensure_ascii=False))
    new_tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), bos_token="<s>",
                                      eos_token="</s>", unk_token="<unk>", pad_token="<pad>", cls_token="<s>",
                                      sep_token="</s>", mask_token="<mask>", model_max_length=512)
    return new_tok


def evaluate_split(backend: NeuralBackend, dialogues: list[dict], batch: int = 16) -> list:
    from analyzer.schema import Dialogue
    out = []
    for i in range(0, len(dialogues), batch):
        out += backend.score_many([Dialogue.model_validate(d) for d in dialogues[i:i + batch]])
    return out


def dev_tactic_f1(backend: NeuralBackend, dev: list[dict]) -> float:
    """The dev score that picks the best epoch (see calibration.selection_score)."""
    from analyzer.model.calibration import selection_score
    from analyzer.model.lexical import turn_texts_and_labels

    _, gold = turn_texts_and_labels(dev)
    return selection_score(gold, [p for s in evaluate_split(backend, dev) for p in s.tactics])


def train(args: TrainArgs) -> Path:
    from tqdm.auto import tqdm

    from analyzer.model.calibration import calibrate
    from analyzer.model.lexical import attach

    if args.threads:
        torch.set_num_threads(args.threads)
    set_seed(args.seed)
    rng = random.Random(args.seed)
    train_gold, dev = load_split("train"), load_split("dev")
    if args.limit:
        train_gold, dev = train_gold[:args.limit], dev[:max(8, args.limit // 4)]
    silver = silver_sample(args.silver, rng)
    encoder, tokenizer, base_name = load_base(args.base_model, args.layers)
    model = build_model(encoder, args, base_name)
    del encoder
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    optimizer = torch.optim.AdamW([{"params": model.encoder.parameters(), "lr": args.lr},
                                   {"params": head_params, "lr": args.head_lr}], weight_decay=0.01)
    data = train_gold + silver
    schedule = [make_batches(data, args.batch_turns, rng) for _ in range(args.epochs)]
    steps = sum(len(batches) for batches in schedule)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, (steps - s) / steps))
    log = []
    started = time.time()
    progress = tqdm(total=steps, desc="train", unit="step", file=sys.stderr)
    step, best_score, best_state, best_epoch = 0, -1.0, None, 0
    for epoch, batches in enumerate(schedule):
        model.train()
        for batch in batches:
            inputs = collate(batch, tokenizer, args.batch_turns, args.max_turn_tokens)
            loss = model(**inputs)["loss"]
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            progress.update(1)
            progress.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}")
            if step % 20 == 0 or step == steps:
                log.append({"step": step, "epoch": epoch + 1, "loss": round(loss.item(), 5)})
                print(json.dumps(log[-1]), file=sys.stderr, flush=True)
        model.eval()
        score = dev_tactic_f1(NeuralBackend(model, tokenizer, name="dev"), dev)
        log.append({"step": step, "epoch": epoch + 1, "dev_tactic_f1": round(score, 5)})
        print(json.dumps(log[-1]), file=sys.stderr, flush=True)
        if score > best_score:
            best_score, best_epoch = score, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    progress.close()
    model.load_state_dict(best_state)  # the epoch with the best dev tactic F1 (model selection on dev)
    model.eval()
    backend = NeuralBackend(model, tokenizer, name="dev")
    lexical_report = attach(backend, train_gold, dev, seed=args.seed) if args.lexical else None
    decision, temperature, report = calibrate(dev, evaluate_split(backend, dev))
    model.config.risk_temperature = temperature
    model.config.decision = decision.to_dict()
    out = Path(args.output)
    texts = [turn_text(t["speaker"], t["text"]) for d in train_gold + dev + silver for t in d["turns"]]
    tokenizer = shrink_vocabulary(model, tokenizer, texts, out)
    if args.save_dtype == "float16":
        model = model.half()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if backend.lexical is not None:
        backend.lexical.save(out)
    meta = {**asdict(args), "version": __version__, "train_dialogues": len(train_gold), "silver_dialogues": len(silver),
            "dev_dialogues": len(dev), "steps": steps, "best_epoch": best_epoch, "seconds": round(time.time() - started, 1),
            "lexical": lexical_report, "calibration": report, "loss_log": log}
    (out / "training_args.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    print(f"saved {out} ({meta['seconds']} s)", file=sys.stderr)
    return out
