"""The `ray` subcommand: the analyzer as a Ray Data job over sharded JSONL or Parquet (analyzer.distributed)."""
from __future__ import annotations

import sys

from analyzer.cli.common import RUNTIMES, CommandError


def cmd_ray(args) -> int:
    try:
        from analyzer.distributed import run
    except ImportError as err:
        raise CommandError(f"the Ray job needs `pip install scam-analyzer[ray]` ({err.name} is missing)") from None
    count = run(args.inputs, args.output, args.model, args.batch_size, args.concurrency, args.runtime)
    print(f"wrote {count} predictions to {args.output}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("ray", help="run the analyzer as a Ray Data job (local, or the cluster in $RAY_ADDRESS)")
    p.add_argument("inputs", nargs="+", help="JSONL or Parquet files, folders or globs")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--model", default="default")
    p.add_argument("--runtime", default="torch", choices=RUNTIMES)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--concurrency", type=int, default=2)
    p.set_defaults(handler=cmd_ray)
