"""The `serve` subcommand (FastAPI is imported only when it runs)."""
from __future__ import annotations

from analyzer.cli.common import RUNTIMES, CommandError


def cmd_serve(args) -> int:
    from analyzer.model.errors import ModelLoadError
    try:
        from analyzer.serve import serve
    except ImportError as err:
        raise CommandError(f"the service needs `pip install scam-analyzer[serve]` ({err.name} is missing)") from None
    for name in ("max_body", "max_turns", "max_connections"):
        if getattr(args, name) < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("body_timeout", "keep_alive_timeout"):
        if getattr(args, name) <= 0:
            raise CommandError(f"--{name.replace('_', '-')} must be over 0 seconds")
    try:
        serve(host=args.host, port=args.port, model=args.model, runtime=args.runtime,
              api_key=args.api_key, max_body_bytes=args.max_body, rate_limit=args.rate_limit,
              max_turns=args.max_turns, body_timeout=args.body_timeout, keep_alive_timeout=args.keep_alive_timeout,
              max_connections=args.max_connections, forwarded_allow_ips=args.forwarded_allow_ips)
    except ModelLoadError as err:
        raise CommandError(str(err)) from None
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the REST service (analyze, explain, live WebSocket, healthz)",
                       description="Run the REST service. The API key is accepted in a header only "
                                   "(X-API-Key: KEY or Authorization: Bearer KEY), never in the URL; query "
                                   "parameters named like key/token/secret/password are logged as ***.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default="default")
    p.add_argument("--runtime", default="auto", choices=RUNTIMES,
                   help="inference runtime: onnx (onnxruntime, no torch), torch, or auto (onnx when exported)")
    p.add_argument("--api-key", default=None,
                   help="require this key in the X-API-Key or Authorization: Bearer header (not accepted in the "
                        "query string); default $SCAM_ANALYZER_API_KEY")
    p.add_argument("--max-body", type=int, default=1_000_000,
                   help="largest request body (and WebSocket frame) in bytes, chunked bodies included")
    p.add_argument("--max-turns", type=int, default=500,
                   help="most turns per request (all dialogues together) and per live WebSocket session")
    p.add_argument("--rate-limit", type=int, default=600,
                   help="requests a minute per client address, or per API key when one is set (0: no limit)")
    p.add_argument("--body-timeout", type=float, default=10.0,
                   help="seconds a client has to send the whole request body (408 after)")
    p.add_argument("--keep-alive-timeout", type=float, default=5.0,
                   help="seconds an idle keep-alive connection stays open")
    p.add_argument("--max-connections", type=int, default=100,
                   help="most concurrent connections (503 beyond), and most live WebSocket sessions")
    p.add_argument("--forwarded-allow-ips", default=None,
                   help="trust X-Forwarded-For from these proxy addresses (comma-separated); default: nobody, "
                        "the rate limit counts the connecting address")
    p.set_defaults(handler=cmd_serve)
