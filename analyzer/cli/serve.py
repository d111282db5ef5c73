"""The `serve` subcommand (FastAPI is imported only when it runs)."""
from __future__ import annotations


def cmd_serve(args) -> int:
    from analyzer.cli.common import CommandError, model_spec
    try:
        from analyzer.serve import serve
    except ImportError as err:
        raise CommandError(f"the service needs `pip install scam-analyzer[serve]` ({err.name} is missing)") from None
    serve(host=args.host, port=args.port, model=model_spec(args.model),
          api_key=args.api_key, max_body_bytes=args.max_body, rate_limit=args.rate_limit)
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the REST service (analyze, explain, live WebSocket, healthz)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default="default")
    p.add_argument("--api-key", default=None, help="require this key (X-API-Key); default $SCAM_ANALYZER_API_KEY")
    p.add_argument("--max-body", type=int, default=1_000_000, help="largest request body in bytes")
    p.add_argument("--rate-limit", type=int, default=600, help="requests a minute per client (0: no limit)")
    p.set_defaults(handler=cmd_serve)
