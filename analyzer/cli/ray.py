"""The `ray` subcommand: the analyzer as a Ray Data job over sharded JSONL or Parquet (analyzer.distributed)."""
from __future__ import annotations

import os
import sys

from analyzer.cli.common import RUNTIMES, CommandError


def cmd_ray(args) -> int:
    try:
        from analyzer.distributed import OutputExistsError, run
    except ImportError as err:
        raise CommandError(f"the Ray job needs `pip install scam-analyzer[ray]` ({err.name} is missing)") from None
    try:
        count = run(args.inputs, args.output, args.model, args.batch_size, args.concurrency, args.runtime,
                    address=args.address, overwrite=args.overwrite)
    except (OutputExistsError, FileNotFoundError) as err:
        raise CommandError(str(err)) from None
    print(f"wrote {count} predictions to {args.output}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("ray", help="run the analyzer as a Ray Data job (local, or a cluster: --address / $RAY_ADDRESS)")
    p.add_argument("inputs", nargs="+", help="JSONL or Parquet files, folders, globs or URIs")
    p.add_argument("-o", "--output", required=True, help="output folder (on a cluster: shared storage or s3://...)")
    p.add_argument("--model", default="default")
    p.add_argument("--runtime", default="auto", choices=RUNTIMES)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                   help="a running cluster, e.g. ray://head:10001 or auto (default: $RAY_ADDRESS, else local)")
    p.add_argument("--overwrite", action="store_true", help="replace what OUT already holds")
    p.set_defaults(handler=cmd_ray)
