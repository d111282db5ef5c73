"""The `eval` subcommand: systems x tasks x data, reports with CIs, hashes and the environment."""
from __future__ import annotations

import shlex
import sys

from analyzer.cli.common import RUNTIMES, CommandError

HEADLINE_KEYS = ("dialogue.f1", "dialogue.recall", "dialogue.fpr_lookalike", "turn.micro_f1", "turn.macro_f1",
                 "early.alert_before_harm_rate")


def system_specs(args) -> list[str] | None:
    """--system NAME=SPEC (repeatable); --model and --baselines are shortcuts for the usual three."""
    if args.system:
        return args.system
    runtime = getattr(args, "runtime", None)
    suffix = f"@{runtime}" if runtime and args.model not in ("rules", "keyword", "tfidf") else ""
    specs = [] if args.model == "none" else [f"model={args.model}{suffix}"]
    for name in (b for b in (args.baselines or "").split(",") if b):
        specs.append({"keyword": "keyword=rules", "tfidf": "tfidf=tfidf"}.get(name, f"{name}={name}"))
    return specs


def cmd_eval(args) -> int:
    from analyzer.corpus.ood import FrozenSetError
    from analyzer.evaluation.report import write_report
    from analyzer.evaluation.runner import run
    from analyzer.evaluation.systems import SystemSpecError
    from analyzer.evaluation.tasks import TaskError

    if args.cross_corpus:
        return cmd_cross_corpus(args)
    tasks = [t for t in (args.tasks or "").split(",") if t] or None
    try:
        report = run(data=args.data, systems=system_specs(args), task_names=tasks, include=tuple(args.include_path),
                     limit=args.limit, seed=args.seed, sample=args.sample, group_by=args.group_by,
                     log_samples=args.log_samples)
    except (TaskError, SystemSpecError, FrozenSetError, ValueError, FileNotFoundError) as err:
        raise CommandError(str(err).splitlines()[0]) from None
    command = "python -m analyzer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = write_report(report, args.output, command)
    for key in HEADLINE_KEYS:
        if key in report:
            print(f"{key}: {report[key]:.4f}" if report[key] is not None else f"{key}: n/a")
    print(f"wrote {out}/metrics.json, report.md and plots", file=sys.stderr)
    if report["failed_systems"]:
        print(f"error: every prediction failed for {', '.join(report['failed_systems'])}; see {out}/report.md",
              file=sys.stderr)
        return 1
    return 0


def cmd_cross_corpus(args) -> int:
    from pathlib import Path

    from analyzer.evaluation.cross import run_cross_corpus
    from analyzer.writers import atomic_output, write_json

    report = run_cross_corpus(args.model, sample=args.sample or 2000, seed=args.seed)
    command = "python -m analyzer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = Path(args.output)
    write_json(out / "metrics.json", {**report, "command": command})

    def f(v):
        return "n/a" if v is None else f"{v:.3f}"
    lines = ["# Cross-corpus report", "", f"Command: `{command}`", "",
             "| direction | system | n | F1 [95% CI] | precision | recall | FPR | AUROC |", "|---|---|---|---|---|---|---|---|"]
    for direction, systems in report["directions"].items():
        for name, m in systems.items():
            ci = (m.get("ci95") or {}).get("f1")
            lines.append(f"| {direction} | {name} | {m['n']} | {f(m['f1'])}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
                         + f" | {f(m['precision'])} | {f(m['recall'])} | {f(m['fpr'])} | {f(m['auroc'])} |")
    with atomic_output(out / "report.md") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval", help="benchmark systems on annotated transcripts (tasks as YAML, systems as plug-ins)")
    p.add_argument("--data", default=None, help="for every task: a named split (train, dev, test, silver, "
                                                "ood/unseen_types, ood/wild) or a transcript file; default: each task's own")
    p.add_argument("--system", action="append", default=[], metavar="NAME=SPEC",
                   help="repeatable; SPEC: a model folder (PATH@onnx for ONNX), default, rules, tfidf, "
                        "llm:openai:MODEL, llm:ollama:MODEL, llm:hf:PATH, or python:module:factory")
    p.add_argument("--model", default="default", help="shortcut: the model system's SPEC ('none' for no model)")
    p.add_argument("--runtime", choices=RUNTIMES, default=None,
                   help="runtime of the --model system (the same as SPEC@RUNTIME); default: auto")
    p.add_argument("--baselines", default="keyword,tfidf", help="shortcut: comma-separated keyword, tfidf")
    p.add_argument("--tasks", default="", help="comma-separated task names or YAML paths (default: all)")
    p.add_argument("--include-path", action="append", default=[], help="a folder of more task YAMLs (repeatable)")
    p.add_argument("--group-by", choices=("scam_type", "source", "benign_type", "register"),
                   help="per-group breakdowns (register: meta.register, e.g. asr, chat)")
    p.add_argument("--log-samples", action="store_true", help="write every prediction to samples.jsonl")
    p.add_argument("--cross-corpus", action="store_true",
                   help="train on one corpus and test on the other, both ways (gold <-> TeleAntiFraud silver)")
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N dialogues only")
    p.add_argument("--sample", type=int, default=0, help="evaluate a seeded random sample of N dialogues")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="output folder for metrics.json, report.md and plots")
    p.set_defaults(handler=cmd_eval)
