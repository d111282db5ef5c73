"""metrics.json, report.md, samples.jsonl and PNG plots for one benchmark run."""
from __future__ import annotations

from pathlib import Path

from analyzer.taxonomy import TACTIC_IDS
from analyzer.writers import atomic_output, jsonl_line, write_json


def _fmt(value, ci=None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if ci:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _tasks_of_kind(report: dict, kind: str) -> list[str]:
    return [t["task"] for t in report["config"]["tasks"] if t["kind"] == kind]


def markdown(report: dict, command: str) -> str:
    systems = report["systems"]
    data = ", ".join(f"`{d['name']}` ({d['dialogues']} dialogues, rows sha256 `{d['sha256'][:12]}…`)"
                     for d in report["datasets"].values())
    env = report.get("environment", {})
    lines = ["# Benchmark report", "", f"Command: `{command}`", "", f"Data: {data}.", "",
             f"Code {report['code_version']}; python {env.get('python')}, torch {env.get('torch')}, transformers "
             f"{env.get('transformers')}, onnxruntime {env.get('onnxruntime')}; seed {report['config']['seed']}.", "",
             "Brackets: bootstrap 95% confidence intervals over dialogues. n/a: the metric's denominator is empty.", ""]
    if report.get("failed_systems"):
        lines += [f"**Every prediction failed for: {', '.join(report['failed_systems'])}.** Their figures are n/a.", ""]
    for task in _tasks_of_kind(report, "dialogue"):
        lines += [f"## {task}", ""]
        rows = []
        for name, r in systems.items():
            d = r.get(task, {})
            ci = d.get("ci95", {})
            rows.append([name, r["model_id"], _fmt(d.get("f1"), ci.get("f1")), _fmt(d.get("recall"), ci.get("recall")),
                         _fmt(d.get("fpr"), ci.get("fpr")), _fmt(d.get("fpr_lookalike")), _fmt(d.get("auroc"), ci.get("auroc")),
                         _fmt(d.get("ece")), _fmt(d.get("balanced_accuracy")), _fmt(d.get("predicted_fraud_ratio")),
                         _fmt(d.get("scam_type_accuracy")), str(r["n_failed"].get(d.get("data"), 0))])
        lines += _table(["system", "model id", "F1", "recall", "FPR (benign)", "FPR (look-alikes)", "AUROC", "ECE",
                         "balanced acc.", "predicted-fraud ratio", "scam-type acc.", "failed"], rows) + [""]
        groups = {n: r[task]["groups"] for n, r in systems.items() if r.get(task, {}).get("groups")}
        if groups:
            names = sorted({g for gs in groups.values() for g in gs})
            lines += [f"Per {report['config']['group_by']} (n; recall for scam groups, false-alarm rate for benign "
                      "groups, with 95% CIs):", ""]
            rows = []
            for g in names:
                cells = []
                for n in groups:
                    v = groups[n].get(g)
                    if not v:
                        cells.append("")
                        continue
                    key = "recall" if v["recall"] is not None else "fpr"
                    cells.append(f"{key} {_fmt(v[key], v['ci95'].get(key))}")
                rows.append([g, str(next(v[g]['n'] for v in groups.values() if g in v))] + cells)
            lines += _table(["group", "n"] + list(groups), rows) + [""]
    for task in _tasks_of_kind(report, "turn"):
        lines += [f"## {task}", ""]
        rows = [[name, _fmt(r[task].get("micro_f1"), r[task].get("ci95", {}).get("micro_f1")),
                 _fmt(r[task].get("macro_f1"), r[task].get("ci95", {}).get("macro_f1"))]
                + [_fmt((r[task].get("per_tactic") or {}).get(t, {}).get("f1")) for t in TACTIC_IDS]
                for name, r in systems.items() if task in r]
        lines += _table(["system", "micro-F1", "macro-F1"] + list(TACTIC_IDS), rows) + [""]
    for task in _tasks_of_kind(report, "early"):
        lines += [f"## {task}", ""]
        rows = []
        for name, r in systems.items():
            e = r.get(task, {})
            rows.append([name, _fmt(e.get("alert_before_harm_rate"), e.get("ci95", {}).get("alert_before_harm_rate")),
                         _fmt(e.get("alerted_rate")), _fmt(e.get("median_turns_to_alert")), _fmt(e.get("erde5")),
                         _fmt(e.get("erde50")), _fmt(e.get("latency_weighted_f1")), _fmt(e.get("benign_alert_rate"))])
        lines += _table(["system", "alert before harm", "alerted", "median turns to alert", "ERDE@5", "ERDE@50",
                         "latency-weighted F1", "benign alert rate"], rows) + [""]
    for task in _tasks_of_kind(report, "robustness"):
        rob = {n: r[task] for n, r in systems.items() if task in r}
        if not rob:
            continue
        perts = list(next(iter(rob.values()))["perturbations"])
        lines += [f"## {task} (dialogue F1; change from clean in brackets)", ""]
        rows = []
        for name, rb in rob.items():
            clean = next(v for k, v in rb.items() if k.startswith("clean_"))
            rows.append([name, _fmt(clean)] + [
                f"{_fmt(v['f1'])} ({-v['drop']:+.3f})" if v.get("drop") is not None else _fmt(v.get("f1"))
                for v in rb["perturbations"].values()])
        lines += _table(["system", "clean"] + perts, rows) + [""]
    for task in _tasks_of_kind(report, "explanation"):
        keys = ("cited_turn_validity", "verbatim_quote_rate", "step_tactic_precision", "step_tactic_recall",
                "validity_rate", "fallback_rate", "latency_ms_p50", "latency_ms_p95", "input_tokens_mean",
                "output_tokens_mean", "verdict_consistency")
        rows = [[name, str(r[task].get("backend")), str(r[task].get("steps"))] + [_fmt(r[task].get(k)) for k in keys]
                for name, r in systems.items() if task in r]
        lines += [f"## {task} (per explanation backend)", ""] + _table(
            ["system", "backend", "steps", "cited-turn validity", "verbatim quotes", "step tactic precision",
             "step tactic recall", "LLM answer valid", "fallback rate", "latency p50 ms", "latency p95 ms",
             "input tokens", "output tokens", "same verdict 5 of 5"], rows) + [""]
    lines += ["Plots: reliability.png (with bin counts), robustness.png (clean reference dashed), alerts_by_turn.png.", ""]
    return "\n".join(lines)


def plots(report: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    systems = report["systems"]
    dialogue_tasks = _tasks_of_kind(report, "dialogue")
    if dialogue_tasks:
        fig, ax = plt.subplots(figsize=(5.5, 5))
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        for name, r in systems.items():
            bins = [b for b in r.get(dialogue_tasks[0], {}).get("reliability", []) if b["count"]]
            if bins:
                line, = ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label=name)
                for b in bins:
                    ax.annotate(str(b["count"]), (b["confidence"], b["accuracy"]), fontsize=7, color=line.get_color(),
                                textcoords="offset points", xytext=(3, 3))
        ax.set(xlabel="predicted scam probability", ylabel="share of scams", title="Reliability (labels: dialogues per bin)")
        ax.legend()
        fig.savefig(out / "reliability.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append("reliability.png")
    for task in _tasks_of_kind(report, "robustness"):
        rob = {n: r[task] for n, r in systems.items() if task in r}
        if not rob:
            continue
        fig, ax = plt.subplots(figsize=(9, 4))
        names = list(next(iter(rob.values()))["perturbations"])
        width = 0.8 / len(rob)
        for k, (system, rb) in enumerate(rob.items()):
            bars = ax.bar([i + k * width for i in range(len(names))],
                          [rb["perturbations"][p]["f1"] or 0.0 for p in names], width, label=system)
            clean = next(v for key, v in rb.items() if key.startswith("clean_"))
            if clean is not None:
                ax.axhline(clean, color=bars.patches[0].get_facecolor(), linestyle="--", lw=1)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=20)
        ax.set(ylabel="dialogue F1", title="Robustness (dashed: clean F1)", ylim=(0, 1.05))
        ax.legend(loc="lower left")
        fig.savefig(out / "robustness.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append("robustness.png")
    early = _tasks_of_kind(report, "early")
    if early:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, r in systems.items():
            curve = r.get(early[0], {}).get("alerted_by_turn") or []
            if curve:
                ax.step(range(1, len(curve) + 1), curve, where="post", label=name)
        ax.set(xlabel="turn", ylabel="share of scams alerted", title="Scams alerted by turn", ylim=(0, 1.02))
        ax.legend(loc="lower right")
        fig.savefig(out / "alerts_by_turn.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append("alerts_by_turn.png")
    return written


def write_report(report: dict, out_dir: str | Path, command: str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = report.pop("samples", None)
    report = {**report, "command": command}
    write_json(out / "metrics.json", report)
    if samples is not None:
        with atomic_output(out / "samples.jsonl") as fh:
            for row in samples:
                fh.write(jsonl_line(row))
    with atomic_output(out / "report.md") as fh:
        fh.write(markdown(report, command))
    plots(report, out)
    return out
