"""Load test of the REST service on loopback: errors, p50/p95 latency, throughput and the server's peak RSS.

    python benchmarks/load.py [--model PATH|rules] [--clients 1,4,16,64] [--seconds 60] [--requests 0]
                              [--rate-limit 600] [-o benchmarks/results/load.json]

Starts `python -m analyzer serve` as a separate process on 127.0.0.1 (a free port), so its memory is measured
alone, then runs each level of concurrent clients for --seconds (or until --requests, when given). Each client
sends one-dialogue POST /v1/analyze requests drawn from the test split, each with its own dialogue id, and checks
that the answer is for that request (status 200, the same id echoed, one prediction per turn); anything else is
counted as an error, by kind. Each client sends from its own loopback address (127.0.0.2, 127.0.0.3, ...), as
distinct users would, so the server runs with its default rate limit (600 requests a minute per client).
Peak RSS: psutil if installed, else /proc/<pid>/status (VmRSS sampled every 0.1 s; VmHWM for the whole run).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_RATE_LIMIT = 600  # `python -m analyzer serve --rate-limit` default


class RssMonitor:
    """Samples a process's resident set size (psutil if installed, else /proc) on a background thread."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval = pid, interval
        self.peak = 0
        self._stop = threading.Event()
        try:
            import psutil
            self._process = psutil.Process(pid)
            self.source = "psutil"
        except ImportError:
            self._process = None
            self.source = "/proc"
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        if self._process is not None:
            return self._process.memory_info().rss
        return _proc_status_kb(self.pid, "VmRSS") * 1024

    def high_water_mark(self) -> int | None:
        """The kernel's own peak RSS of the whole process lifetime (Linux), exact where sampling may miss."""
        try:
            return _proc_status_kb(self.pid, "VmHWM") * 1024
        except (OSError, ValueError):
            return None

    def reset(self) -> None:
        self.peak = self.rss()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.rss())
            except Exception:  # the process ended
                return
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def _proc_status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise ValueError(f"{field} not in /proc/{pid}/status")


def start_server(model: str | None, rate_limit: int, max_connections: int, log) -> tuple[subprocess.Popen, str, list]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "analyzer", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--model", model or "default", "--rate-limit", str(rate_limit),
               "--max-connections", str(max_connections)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
                               env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    return process, f"http://127.0.0.1:{port}", command


def wait_ready(process: subprocess.Popen, url: str, log_path: str, timeout: float = 600) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = Path(log_path).read_text(errors="replace")[-2000:]
            raise SystemExit(f"the server exited with status {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f} s")


def check(response, sent: dict) -> str | None:
    """None when the response answers this request, else the kind of error."""
    if response.status_code != 200:
        return f"http_{response.status_code}"
    try:
        predictions = response.json()["predictions"]
    except (ValueError, KeyError, TypeError):
        return "bad_json"
    if len(predictions) != 1 or predictions[0].get("id") != sent["id"]:
        return "wrong_dialogue_id"
    if len(predictions[0].get("turns", ())) != len(sent["turns"]):
        return "wrong_turn_count"
    return None


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))], 1)


def level(url: str, dialogues: list[dict], clients: int, requests: int, seconds: float, monitor: RssMonitor) -> dict:
    import httpx

    latencies: list[float] = []
    errors: Counter = Counter()
    sent_count = 0
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(k: int):
        nonlocal sent_count
        seq = 0
        # each client comes from its own loopback address (127.0.0.0/8 is all loopback), as distinct users would, so
        # the server's per-client rate limit applies per client
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{2 + k % 250}")
        with httpx.Client(timeout=120, limits=httpx.Limits(max_connections=1), transport=transport) as client:
            while time.monotonic() < deadline:
                with lock:
                    if requests and sent_count >= requests:
                        return
                    sent_count += 1
                source = dialogues[(k + seq * clients) % len(dialogues)]
                dialogue = {"id": f"{source['id']}#c{k}-r{seq}", "turns": source["turns"]}
                seq += 1
                t0 = time.perf_counter()
                try:
                    problem = check(client.post(f"{url}/v1/analyze", json={"dialogues": [dialogue]}), dialogue)
                except httpx.HTTPError as err:
                    problem = f"exception_{type(err).__name__}"
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    if problem:
                        errors[problem] += 1
                    else:
                        latencies.append(elapsed)

    monitor.reset()
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - start
    latencies.sort()
    total = len(latencies) + sum(errors.values())
    return {"clients": clients, "seconds": round(wall, 1), "requests": total, "ok": len(latencies),
            "errors": sum(errors.values()), "error_kinds": dict(errors),
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p95_ms": percentile(latencies, 0.95),
            "throughput_rps": round(len(latencies) / wall, 2),
            "peak_rss_mb": round(monitor.peak / 2**20, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder, 'rules', or the shipped default")
    parser.add_argument("--clients", default="1,4,16,64", help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=60, help="duration of each level")
    parser.add_argument("--requests", type=int, default=0, help="stop a level after this many requests (0: none)")
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_RATE_LIMIT,
                        help=f"the server's --rate-limit for the run (its default is {DEFAULT_RATE_LIMIT}/min)")
    parser.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "load.json"))
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    from analyzer.corpus import load_split
    dialogues = [{k: d[k] for k in ("id", "turns")} for d in load_split("test")]

    max_connections = max(100, 2 * max(levels) + 8)
    log = tempfile.NamedTemporaryFile("w+b", prefix="load-server-", suffix=".log", delete=False)
    process, url, command = start_server(args.model, args.rate_limit, max_connections, log)
    note = (f"rate limit: --rate-limit {args.rate_limit} (the server default is {DEFAULT_RATE_LIMIT} a minute per client)"
            if args.rate_limit != DEFAULT_RATE_LIMIT else
            f"rate limit: the server default, {DEFAULT_RATE_LIMIT} requests a minute per client; each load client has "
            "its own loopback address (429s count as errors)")
    print("server: python " + " ".join(command[1:]), flush=True)
    print(note, flush=True)
    try:
        wait_ready(process, url, log.name)
        monitor = RssMonitor(process.pid)
        idle_rss = monitor.rss()
        results = []
        for clients in levels:
            results.append(level(url, dialogues, clients, args.requests, args.seconds, monitor))
            r = results[-1]
            print(f"  {clients} clients: {r['requests']} requests, {r['errors']} errors, p50 {r['p50_ms']} ms, "
                  f"p95 {r['p95_ms']} ms, peak RSS {r['peak_rss_mb']} MB", flush=True)
        high_water = monitor.high_water_mark()
        monitor.stop()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        os.unlink(log.name)
    report = {"model": args.model or "default", "server_command": "python " + " ".join(command[1:]),
              "rate_limit": args.rate_limit, "default_rate_limit": DEFAULT_RATE_LIMIT, "rate_limit_note": note,
              "rss_source": monitor.source, "idle_rss_mb": round(idle_rss / 2**20, 1),
              "peak_rss_mb": round(max([high_water or 0] + [r["peak_rss_mb"] * 2**20 for r in results]) / 2**20, 1),
              "levels": results}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'clients':>8}{'seconds':>9}{'requests':>10}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'req/s':>10}"
          f"{'peak RSS MB':>13}")
    for r in results:
        print(f"{r['clients']:>8}{r['seconds']:>9}{r['requests']:>10}{r['errors']:>8}{str(r['p50_ms']):>10}"
              f"{str(r['p95_ms']):>10}{r['throughput_rps']:>10}{r['peak_rss_mb']:>13}")
        if r["error_kinds"]:
            print(f"{'':>8}errors: " + ", ".join(f"{k} {v}" for k, v in sorted(r["error_kinds"].items())))
    print(f"server peak RSS {report['peak_rss_mb']} MB (idle {report['idle_rss_mb']} MB, {monitor.source}); "
          f"{note}; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
