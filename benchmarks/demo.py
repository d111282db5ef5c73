"""Web demo timings: seconds from `python app.py` to a served page, and seconds to analyze a 20-turn transcript.

    python benchmarks/demo.py
"""
from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**__import__("os").environ, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        startup = time.perf_counter() - start
        from gradio_client import Client
        from analyzer.corpus import load_split
        dialogue = next(d for d in load_split("test") if len(d["turns"]) >= 20)
        text = "\n".join(f"{t['speaker']}：{t['text']}" for t in dialogue["turns"][:20])
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(text, api_name="/analyze")  # warm-up
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            client.predict(text, api_name="/analyze")
            times.append(time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    result = {"startup_seconds": round(startup, 2), "analyze_20_turns_seconds_median": round(statistics.median(times), 3),
              "analyze_20_turns_seconds_max": round(max(times), 3)}
    (ROOT / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "results" / "demo.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
