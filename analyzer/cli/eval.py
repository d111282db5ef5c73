"""The `eval` subcommand."""
from __future__ import annotations

import shlex
import sys


def cmd_eval(args) -> int:
    from analyzer.cli import CommandError
    from analyzer.evaluation.report import write_report
    from analyzer.evaluation.runner import run
    from analyzer.model.errors import ModelLoadError

    if args.cross_corpus:
        return cmd_cross_corpus(args)
    baselines = tuple(b for b in (args.baselines or "").split(",") if b)
    tasks = [t for t in (args.tasks or "").split(",") if t] or None
    try:
        report = run(data=args.data, model=args.model, baselines=baselines, task_names=tasks, limit=args.limit,
                     seed=args.seed, sample=args.sample)
    except (ModelLoadError, ValueError, FileNotFoundError) as err:
        raise CommandError(str(err)) from None
    command = "python -m analyzer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = write_report(report, args.output, command)
    keys = report["systems"].get(report.get("primary_system"), {}).get("keys", {})
    for key in ("dialogue.f1", "dialogue.fpr", "turn.micro_f1", "turn.macro_f1", "early.alert_before_harm_rate"):
        if key in keys:
            print(f"{key}: {keys[key]:.4f}" if keys[key] is not None else f"{key}: –")
    print(f"wrote {out}/metrics.json, report.md and plots", file=sys.stderr)
    return 0


def cmd_cross_corpus(args) -> int:
    from pathlib import Path

    from analyzer.evaluation.runner import run_cross_corpus
    from analyzer.writers import atomic_output, write_json

    report = run_cross_corpus(args.model, sample=args.sample or 2000, seed=args.seed)
    command = "python -m analyzer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = Path(args.output)
    write_json(out / "metrics.json", {**report, "command": command})
    lines = ["# Cross-corpus report", "", f"Command: `{command}`", "",
             "| direction | system | n | F1 [95% CI] | precision | recall | FPR | AUROC |", "|---|---|---|---|---|---|---|---|"]
    for direction, systems in report["directions"].items():
        for name, m in systems.items():
            ci = (m.get("ci95") or {}).get("f1")
            lines.append(f"| {direction} | {name} | {m['n']} | {m['f1']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
                         + f" | {m['precision']:.3f} | {m['recall']:.3f} | {m['fpr']:.3f} | "
                         + (f"{m['auroc']:.3f}" if m["auroc"] is not None else "–") + " |")
    with atomic_output(out / "report.md") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def register(sub, handlers) -> None:
    p = sub.add_parser("eval", help="benchmark the model and baselines on annotated transcripts")
    p.add_argument("--data", default="test", help="a split name (train, dev, test, silver) or a transcript file")
    p.add_argument("--model", default="default", help="model folder, 'default', 'rules' or 'none'")
    p.add_argument("--baselines", default="keyword,tfidf",
                   help="comma-separated: keyword,tfidf, and llm when an LLM is configured (empty for none)")
    p.add_argument("--cross-corpus", action="store_true",
                   help="train on one corpus and test on the other, both ways (gold <-> TeleAntiFraud silver)")
    p.add_argument("--tasks", default="", help="comma-separated task names from eval/tasks (default: all)")
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N dialogues only")
    p.add_argument("--sample", type=int, default=0, help="evaluate a seeded random sample of N dialogues")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="output folder for metrics.json, report.md and plots")
    handlers["eval"] = cmd_eval
