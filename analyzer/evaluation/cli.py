"""The `eval` subcommand."""
from __future__ import annotations

import shlex
import sys


def cmd_eval(args) -> int:
    from analyzer.cli import CommandError
    from analyzer.evaluation.report import write_report
    from analyzer.evaluation.runner import run
    from analyzer.model.errors import ModelLoadError

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


def register(sub, handlers) -> None:
    p = sub.add_parser("eval", help="benchmark the model and baselines on annotated transcripts")
    p.add_argument("--data", default="test", help="a split name (train, dev, test, silver) or a transcript file")
    p.add_argument("--model", default="default", help="model folder, 'default', 'rules' or 'none'")
    p.add_argument("--baselines", default="keyword,tfidf", help="comma-separated: keyword,tfidf (empty for none)")
    p.add_argument("--tasks", default="", help="comma-separated task names from eval/tasks (default: all)")
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N dialogues only")
    p.add_argument("--sample", type=int, default=0, help="evaluate a seeded random sample of N dialogues")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="output folder for metrics.json, report.md and plots")
    handlers["eval"] = cmd_eval
