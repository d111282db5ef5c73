"""Fine-tune the tactic tagger: `python -m analyzer train`.

Seeded; the base encoder is truncated to its first `--layers` layers; gold dialogues teach tactics and risk, a
sample of the TeleAntiFraud silver set teaches risk only. Training dialogues are restyled (analyzer.training.augment)
and the encoder never sees speaker names. Whole scam types and benign situations are held out of training as a
selection fold (analyzer.training.folds); with dev they pick the epoch, the lexical channel's weight, the thresholds
and the verdict. The output folder is a `save_pretrained` folder (fp16, the vocabulary trimmed to the pieces Chinese
text needs); `python -m analyzer release FOLDER` then writes its card.
"""
from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from transformers import get_linear_schedule_with_warmup, set_seed

from analyzer import __version__
from analyzer.corpus import load_split
from analyzer.model.inference import NeuralBackend, encoder_text
from analyzer.model.modeling import ScamTaggerConfig, ScamTaggerModel
from analyzer.training.args import TrainArgs
from analyzer.training.calibration import calibrate, score_dialogues, selection_score
from analyzer.training.lexical_fit import attach, turn_texts_and_labels
from analyzer.taxonomy import SCAM_TYPES, TACTIC_IDS


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


def collate(batch: list[dict], tokenizer, max_turns: int, max_tokens: int, rng: random.Random | None = None) -> dict:
    """Tensors for one batch. With `rng` (training), each dialogue is restyled (analyzer.training.augment) and its
    party bit gets a random polarity, so nothing can learn that the first speaker is the caller."""
    from analyzer.training.augment import augment_dialogue

    texts, first, tactic_rows, tactic_mask, counts, labels, types = [], [], [], [], [], [], []
    type_index = {t: i for i, t in enumerate(SCAM_TYPES)}
    for d in batch:
        flip = False
        if rng is not None:
            d, flip = augment_dialogue(d, rng), rng.random() < 0.5
        turns = d["turns"][:max_turns]
        counts.append(len(turns))
        opener = turns[0]["speaker"]
        gold = d.get("source") != "silver"
        for t in turns:
            texts.append(encoder_text(t["text"]))
            first.append(float((t["speaker"] == opener) != flip))
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


def dev_tactic_f1(backend: NeuralBackend, dev: list[dict]) -> float:
    """The selection score that picks the best epoch (see calibration.selection_score)."""
    _, gold = turn_texts_and_labels(dev)
    return selection_score(gold, [p for s in score_dialogues(backend, dev) for p in s.tactics])


def _checkpoint_path(args: TrainArgs) -> Path:
    return Path("runs") / (Path(args.output).name + ".checkpoint.pt")


def train(args: TrainArgs) -> Path:
    """Train, keeping the epoch that scores best on the selection set (dev plus the held-out fold of whole types).

    A checkpoint is written after every epoch (runs/<name>.checkpoint.pt); a run started again with the same
    arguments resumes after the last finished epoch.
    """
    from tqdm.auto import tqdm

    from analyzer.training.folds import HELD_OUT_BENIGN_TYPES, HELD_OUT_SCAM_TYPES, split_selection_fold

    if args.threads:
        torch.set_num_threads(args.threads)
    set_seed(args.seed)  # transformers: python, numpy and torch
    rng = random.Random(args.seed)
    train_all, dev = load_split("train"), load_split("dev")
    if args.limit:
        train_all, dev = train_all[:args.limit], dev[:max(8, args.limit // 4)]
    train_gold, fold = split_selection_fold(train_all) if args.holdout else (train_all, [])
    selection = dev + fold
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
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=steps // 10, num_training_steps=steps)
    log = []
    started = time.time()
    step, best_score, best_state, best_epoch, first_epoch = 0, -1.0, None, 0, 0
    checkpoint = _checkpoint_path(args)
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        if saved["args"] == {k: v for k, v in asdict(args).items() if k != "command"}:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            step, best_score, best_state, best_epoch = saved["step"], saved["best_score"], saved["best"], saved["best_epoch"]
            first_epoch, log = saved["epoch"], saved["log"]
            print(f"resuming after epoch {first_epoch} from {checkpoint}", file=sys.stderr, flush=True)
    progress = tqdm(total=steps, initial=step, desc="train", unit="step", file=sys.stderr)
    for epoch in range(first_epoch, args.epochs):
        model.train()
        augment_rng = random.Random(args.seed * 1000 + epoch) if args.augment else None
        for batch in schedule[epoch]:
            inputs = collate(batch, tokenizer, args.batch_turns, args.max_turn_tokens, augment_rng)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(args.bf16)):
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
        score = dev_tactic_f1(NeuralBackend(model, tokenizer, name="selection"), selection)
        log.append({"step": step, "epoch": epoch + 1, "selection_tactic_f1": round(score, 5)})
        print(json.dumps(log[-1]), file=sys.stderr, flush=True)
        if score > best_score:
            best_score, best_epoch = score, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"args": {k: v for k, v in asdict(args).items() if k != "command"}, "epoch": epoch + 1,
                    "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "best": best_state, "best_score": best_score,
                    "best_epoch": best_epoch, "log": log}, checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)
    progress.close()
    model.load_state_dict(best_state)  # the epoch with the best selection-set tactic F1
    model.eval()
    backend = NeuralBackend(model, tokenizer, name="selection")
    lexical_report = attach(backend, train_gold, selection, seed=args.seed) if args.lexical else None
    decision, temperature, report = calibrate(selection, score_dialogues(backend, selection))
    model.config.risk_temperature = temperature
    model.config.decision = decision.to_dict()
    out = Path(args.output)
    texts = [encoder_text(t["text"]) for d in train_all + dev + silver for t in d["turns"]]
    tokenizer = shrink_vocabulary(model, tokenizer, texts, out)
    if args.save_dtype == "float16":
        model = model.half()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if backend.lexical is not None:
        backend.lexical.save(out)
    meta = {**asdict(args), "version": __version__, "train_dialogues": len(train_gold), "silver_dialogues": len(silver),
            "dev_dialogues": len(dev), "selection_fold": {"dialogues": len(fold), "scam_types": list(HELD_OUT_SCAM_TYPES),
                                                          "benign_types": list(HELD_OUT_BENIGN_TYPES)} if args.holdout else None,
            "steps": steps, "best_epoch": best_epoch, "seconds": round(time.time() - started, 1),
            "lexical": lexical_report, "calibration": report, "loss_log": log}
    (out / "training_args.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    print(f"saved {out} ({meta['seconds']} s)", file=sys.stderr)
    return out
