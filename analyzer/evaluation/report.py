"""metrics.json, report.md and PNG plots for one benchmark run."""
from __future__ import annotations

from pathlib import Path

from analyzer.taxonomy import TACTIC_IDS
from analyzer.writers import atomic_output, write_json


def _fmt(value, ci=None) -> str:
    if value is None:
        return "–"
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if ci:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def markdown(report: dict, command: str) -> str:
    systems = report["systems"]
    lines = ["# Benchmark report", "", f"Command: `{command}`", "",
             f"Data: `{report['dataset']['name']}` ({report['dataset']['dialogues']} dialogues, "
             f"sha256 `{(report['dataset']['sha256'] or '')[:16]}…`); code {report['code_version']}; "
             f"seed {report['config']['seed']}.", "",
             "Figures in brackets are bootstrap 95% confidence intervals over dialogues.", "",
             "## Headline", "",
             "| system | model id | dialogue F1 | FPR (all benign) | FPR (look-alikes) | AUROC | ECE | turn micro-F1 "
             "| turn macro-F1 | alert before harm | median turns to alert | failed |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in systems.items():
        d, t, e = r.get("dialogue_detection", {}), r.get("turn_tagging", {}), r.get("early_warning", {})
        dci, tci, eci = d.get("ci95", {}), t.get("ci95", {}), e.get("ci95", {})
        lines.append(f"| {name} | {r['model_id']} | {_fmt(d.get('f1'), dci.get('f1'))} | {_fmt(d.get('fpr'), dci.get('fpr'))} "
                     f"| {_fmt(d.get('fpr_lookalike'))} | {_fmt(d.get('auroc'), dci.get('auroc'))} | {_fmt(d.get('ece'))} "
                     f"| {_fmt(t.get('micro_f1'), tci.get('micro_f1'))} | {_fmt(t.get('macro_f1'), tci.get('macro_f1'))} "
                     f"| {_fmt(e.get('alert_before_harm_rate'), eci.get('alert_before_harm_rate'))} "
                     f"| {_fmt(e.get('median_turns_to_alert'))} | {r['n_failed']} |")
    if any("turn_tagging" in r for r in systems.values()):
        lines += ["", "## Per-tactic F1", "", "| tactic | " + " | ".join(systems) + " |",
                  "|---|" + "---|" * len(systems)]
        for tactic in TACTIC_IDS:
            cells = [_fmt((r.get("turn_tagging", {}).get("per_tactic") or {}).get(tactic, {}).get("f1")) for r in systems.values()]
            lines.append(f"| {tactic} | " + " | ".join(cells) + " |")
    if any("robustness" in r for r in systems.values()):
        perts = next(iter(r["robustness"]["perturbations"] for r in systems.values() if "robustness" in r))
        lines += ["", "## Robustness (dialogue F1, drop from clean in brackets)", "",
                  "| system | clean | " + " | ".join(perts) + " |", "|---|---|" + "---|" * len(perts)]
        for name, r in systems.items():
            rb = r.get("robustness")
            if rb:
                cells = [f"{v['f1']:.3f} ({v['drop']:+.3f})" for v in rb["perturbations"].values()]
                lines.append(f"| {name} | {_fmt(next(v for k, v in rb.items() if k.startswith('clean_')))} | "
                             + " | ".join(cells) + " |")
    if any(r.get("explanation_faithfulness", {}).get("steps") for r in systems.values()):
        lines += ["", "## Explanations (offline grounded explainer unless an LLM is configured)", "",
                  "| system | backend | steps | cited-turn validity | verbatim quotes | step tactic precision "
                  "| step tactic recall |", "|---|---|---|---|---|---|---|"]
        for name, r in systems.items():
            x = r.get("explanation_faithfulness") or {}
            if x.get("steps") is not None:
                lines.append(f"| {name} | {x['backend']} | {x['steps']} | {_fmt(x['cited_turn_validity'])} | "
                             f"{_fmt(x['verbatim_quote_rate'])} | {_fmt(x['step_tactic_precision'])} | "
                             f"{_fmt(x['step_tactic_recall'])} |")
    skipped = {n: r[t]["skipped"] for n, r in systems.items() for t in r if isinstance(r[t], dict) and "skipped" in r[t]}
    if skipped:
        lines += ["", "## Skipped", ""] + [f"- {n}: {why}" for n, why in skipped.items()]
    lines += ["", "Plots: reliability.png (calibration) and robustness.png.", ""]
    return "\n".join(lines)


def plots(report: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    systems = report["systems"]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    for name, r in systems.items():
        bins = [b for b in r.get("dialogue_detection", {}).get("reliability", []) if b["count"]]
        if bins:
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label=name)
    ax.set(xlabel="predicted scam probability", ylabel="share of scams", title="Reliability diagram")
    ax.legend()
    fig.savefig(out / "reliability.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    written.append("reliability.png")

    rob = {n: r["robustness"]["perturbations"] for n, r in systems.items() if "robustness" in r}
    if rob:
        fig, ax = plt.subplots(figsize=(8, 4))
        names = list(next(iter(rob.values())))
        width = 0.8 / len(rob)
        for k, (system, perts) in enumerate(rob.items()):
            ax.bar([i + k * width for i in range(len(names))], [perts[p]["f1"] for p in names], width, label=system)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=20)
        ax.set(ylabel="dialogue F1", title="Robustness to perturbations", ylim=(0, 1))
        ax.legend()
        fig.savefig(out / "robustness.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append("robustness.png")
    return written


def write_report(report: dict, out_dir: str | Path, command: str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {**report, "command": command}
    write_json(out / "metrics.json", report)
    with atomic_output(out / "report.md") as fh:
        fh.write(markdown(report, command))
    plots(report, out)
    return out
