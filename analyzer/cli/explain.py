"""The `explain` subcommand: analyze, then explain step by step, citing turns."""
from __future__ import annotations

import sys

from analyzer.cli.common import CommandError, add_input_options, load_analyzer


def render(explanation) -> str:
    """A readable Chinese rendering of an Explanation (its source, status and, for an LLM, latency and tokens)."""
    verdicts = {"scam": "诈骗", "benign": "正常", "uncertain": "存疑"}
    lines = [f"【{explanation.id}】结论：{verdicts[explanation.verdict]}（风险 {explanation.risk_level}）"]
    if explanation.model_probability is not None:
        lines.append(f"模型诈骗概率 {explanation.model_probability:.2f}"
                     + (f"；LLM 判断：{verdicts[explanation.llm_verdict]}" if explanation.llm_verdict else ""))
    who = "LLM" if explanation.written_by_llm else "模型结果（非 LLM 生成）"
    lines.append(f"解释来源：{explanation.backend}，{who}，状态 {explanation.status}"
                 + (f"（{explanation.status_detail}）" if explanation.status_detail else ""))
    usage = explanation.usage
    if usage.attempts:
        lines.append(f"LLM 用时 {usage.latency_ms / 1000:.1f} 秒，输入 {usage.input_tokens} / 输出 {usage.output_tokens} "
                     f"tokens，调用 {usage.attempts} 次")
    for k, step in enumerate(explanation.steps, 1):
        lines.append(f"{k}. 第{'、'.join(str(t + 1) for t in step.turns)}轮 [{step.tactic}] “{step.quote}” —— {step.reasoning}")
    if explanation.override_reason:
        lines.append(f"LLM 不同意模型高风险的理由：{explanation.override_reason}")
    lines.append("建议：")
    lines += [f"  - {a}" for a in explanation.advice]
    return "\n".join(lines)


def cmd_explain(args) -> int:
    from analyzer.chain.backends import BackendError
    from analyzer.readers import read_dialogues
    from analyzer.writers import write_json

    dialogues, errors = read_dialogues(args.input, fmt=args.format, encoding=args.encoding,
                                       skip_invalid=args.skip_invalid)
    for message in errors:
        print(f"skipped: {message}", file=sys.stderr)
    analyzer = load_analyzer(args.model)

    def on_token(text):
        sys.stderr.write(text)
        sys.stderr.flush()

    try:
        explainer = analyzer.explainer(args.llm, on_token=on_token if args.stream else None, timeout=args.timeout)
    except BackendError as err:
        raise CommandError(str(err)) from None
    results = []
    for dialogue in dialogues:
        explanation = explainer.explain(dialogue, analyzer.analyze(dialogue))
        if args.stream and explanation.usage.attempts:  # tokens were streamed (also before a fallback)
            sys.stderr.write("\n")
        print(render(explanation))
        print()
        results.append(explanation.to_dict())
    if args.output:
        write_json(args.output, results if len(results) != 1 else results[0])
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("explain", help="explain step by step, citing turns, which tactics appear and why")
    add_input_options(p)
    p.add_argument("--llm", default=None, help="none (default, offline), local (llama.cpp: the small packaged GGUF "
                                               "model) or local:PATH.gguf, openai:MODEL, ollama:MODEL or hf:PATH; "
                                               "or set $SCAM_ANALYZER_LLM")
    p.add_argument("--model", default="default", help="tagger model folder, 'default' or 'rules'")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds per LLM call (local: the generation's deadline)")
    p.add_argument("--no-stream", dest="stream", action="store_false", help="do not stream LLM tokens to stderr")
    p.add_argument("-o", "--output", help="write the explanation(s) as JSON")
    p.set_defaults(handler=cmd_explain)
