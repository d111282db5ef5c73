"""Peak memory of `python -m analyzer analyze` on growing inputs: it should stay flat (the input is streamed).

    python benchmarks/batch_memory.py [--model rules|PATH] [--sizes 1000,10000,100000]

Builds JSONL files by repeating the test split with fresh ids, runs the CLI on each in a subprocess, and prints
dialogues, seconds, dialogues per second and the child's peak RSS.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="rules")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "batch_memory.json"))
    args = parser.parse_args()
    from analyzer.corpus import load_split
    base = [{"id": d["id"], "turns": [{"speaker": t["speaker"], "text": t["text"]} for t in d["turns"]]}
            for d in load_split("test")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"in-{size}.jsonl"
            with open(path, "w", encoding="utf-8") as fh:
                for i in range(size):
                    d = base[i % len(base)]
                    fh.write(json.dumps({"id": f"{d['id']}#{i}", "turns": d["turns"]}, ensure_ascii=False) + "\n")
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "analyzer", "analyze", str(path), "-o", str(Path(tmp) / "out.jsonl"),
                                   "--model", args.model], cwd=ROOT, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                print(done.stderr[-1000:], file=sys.stderr)
                return 1
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            rows.append({"dialogues": size, "seconds": round(seconds, 1), "dialogues_per_second": round(size / seconds, 1),
                         "peak_rss_mb": round(max(peak, before) / 1024, 1)})
            print(json.dumps(rows[-1]))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"model": args.model, "runs": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
