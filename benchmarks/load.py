"""Bounded load test of the REST service on loopback: p50/p95 latency and throughput at 1, 4 and 16 clients.

    python benchmarks/load.py [--model PATH|rules] [--requests 200] [--seconds 60]

Starts `analyzer serve`'s app in this process on 127.0.0.1 (a free port), sends one-dialogue /v1/analyze requests
drawn from the test split, and stops after --requests per level or --seconds, whichever comes first.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_server(model):
    import uvicorn

    from analyzer.api import Analyzer
    from analyzer.serve import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Analyzer.from_pretrained(model), rate_limit=0)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def level(url: str, dialogues: list[dict], clients: int, requests: int, seconds: float) -> dict:
    import httpx

    latencies, errors = [], 0
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(k: int):
        nonlocal errors
        with httpx.Client(timeout=60) as client:
            i = k
            while i < requests and time.monotonic() < deadline:
                t0 = time.perf_counter()
                r = client.post(f"{url}/v1/analyze", json={"dialogues": [dialogues[i % len(dialogues)]]})
                with lock:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    errors += r.status_code != 200
                i += clients

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - start
    latencies.sort()
    return {"clients": clients, "requests": len(latencies), "errors": errors,
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "throughput_rps": round(len(latencies) / wall, 2)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "load.json"))
    args = parser.parse_args()
    from analyzer.corpus import load_split
    dialogues = [{k: d[k] for k in ("id", "turns")} for d in load_split("test")]
    server, url = start_server(args.model)
    try:
        results = [level(url, dialogues, c, args.requests, args.seconds) for c in (1, 4, 16)]
    finally:
        server.should_exit = True
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"model": args.model or "default", "levels": results}, indent=2) + "\n")
    print(f"{'clients':>8}{'requests':>10}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'req/s':>10}")
    for r in results:
        print(f"{r['clients']:>8}{r['requests']:>10}{r['errors']:>8}{r['p50_ms']:>10}{r['p95_ms']:>10}{r['throughput_rps']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
