"""The doctor's report: a short text for people, JSON for machines, Markdown for a PR or ticket."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Optional

from .analysis import Findings
from .probe import ProbeResult

REPORT_FORMAT_VERSION = 1


@dataclass
class Report:
    jaeger_url: str
    prometheus_url: Optional[str]
    stack: Optional[str]
    window_start: str
    window_end: str
    window_seconds: int
    truncated: bool
    findings: Findings
    probe: Optional[ProbeResult] = None

    @property
    def problems(self) -> int:
        return self.findings.problems + (self.probe.problems if self.probe else 0)


def _percent(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} %" if value < 10 else f"{value:.1f} %"


def _count(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f}"


def to_document(report: Report) -> dict[str, Any]:
    findings = report.findings
    document: dict[str, Any] = {
        "report_format": REPORT_FORMAT_VERSION,
        "jaeger_url": report.jaeger_url,
        "prometheus_url": report.prometheus_url,
        "stack": report.stack,
        "window": {
            "start": report.window_start,
            "end": report.window_end,
            "seconds": report.window_seconds,
        },
        "traces_read": findings.traces_read,
        "spans_read": findings.spans_read,
        "truncated": report.truncated,
        "problems": report.problems,
        "broken_propagation": [asdict(item) for item in findings.broken_propagation],
        "orphans": [asdict(item) for item in findings.orphans],
        "trace_starts": [asdict(item) for item in findings.trace_starts],
        "untraced_services": (
            None if findings.untraced is None else [asdict(item) for item in findings.untraced]
        ),
        "sampling": (
            None if findings.sampling is None else [asdict(item) for item in findings.sampling]
        ),
        "notes": findings.notes,
        "probe": asdict(report.probe) if report.probe else None,
    }
    for item in document["broken_propagation"]:
        item["examples"] = [
            {"inbound_trace": inbound, "new_trace": new} for inbound, new in item["examples"]
        ]
    return document


def render_json(report: Report) -> str:
    return json.dumps(to_document(report), indent=2) + "\n"


def _sections(report: Report, code: Callable[[str], str]) -> list[tuple[str, list[str]]]:
    """(heading, lines) for each part of the report; `code` marks up an identifier."""
    findings = report.findings
    sections: list[tuple[str, list[str]]] = []

    lines = []
    for item in findings.broken_propagation:
        callees = ", ".join(f"{code(name)} ({count})" for name, count in item.callees.items())
        lines.append(
            f"{code(item.service)}: {item.new_traces} outbound calls started new traces while "
            f"it received {item.inbound_traced_requests} traced requests "
            f"({item.matched} of the calls made during a sampled one); calls to {callees}. "
            "The app does not copy "
            "the trace headers (traceparent, tracestate, x-request-id, b3, x-b3-*) onto its "
            "outbound calls."
        )
        for inbound, new in item.examples:
            lines.append(
                f"  inbound trace {code(inbound or 'not sampled')} -> new trace {code(new)}"
            )
    sections.append(("Broken propagation", lines or ["none found"]))

    if findings.untraced is None:
        sections.append(("Untraced services", ["not checked (no --prometheus-url)"]))
    else:
        sections.append(
            (
                "Untraced services",
                [
                    f"{code(f'{item.service}.{item.namespace}')}: {item.requests:.0f} requests "
                    f"in the window, no span ({item.callers_spans} caller spans to it); "
                    f"likely {item.likely_cause}"
                    for item in findings.untraced
                ]
                or ["none found"],
            )
        )

    if findings.sampling is None:
        sections.append(("Observed sampling", ["not checked (no --prometheus-url)"]))
    else:
        lines = []
        for row in findings.sampling:
            line = (
                f"{code(row.service)} ({row.role}): {row.traces} traces / "
                f"{_count(row.requests)} requests = {_percent(row.observed_percent)}, "
                f"configured {_percent(row.configured_percent)} ({row.configured_as}): "
                f"{row.verdict}"
            )
            if row.likely_cause:
                line += f"; {row.likely_cause}"
            lines.append(line)
        sections.append(("Observed sampling", lines or ["no trace started in the window"]))

    sections.append(
        (
            "Orphan spans",
            [
                f"{code(item.service)}: {item.spans} spans whose parent never arrived (spans "
                f"dropped on the way, or app spans sent elsewhere); e.g. "
                + ", ".join(code(trace) for trace in item.examples)
                for item in findings.orphans
            ]
            or ["none found"],
        )
    )

    if report.probe is not None:
        probe = report.probe
        lines = [f"{probe.url}, waited {probe.waited_seconds:g} s"]
        for item in probe.traces:
            if not item.found:
                lines.append(
                    f"{code(item.trace_id)} (HTTP {item.status}): not in Jaeger; the gateway may "
                    "drop client trace context (trust_client_trace_context: false), or spans "
                    "did not arrive in time"
                )
                continue
            chain = " -> ".join(item.hops) or "no proxy span"
            line = f"{code(item.trace_id)} (HTTP {item.status}): {chain}"
            if item.missing:
                line += f"; missing: {', '.join(item.missing)}"
            lines.append(line)
        sections.append(("Probe", lines))

    if findings.notes:
        sections.append(("Notes", list(findings.notes)))
    return sections


def _summary(report: Report) -> str:
    problems = report.problems
    verdict = "no problem found" if not problems else f"{problems} problem(s) found"
    truncated = " (truncated: raise --max-traces to read them all)" if report.truncated else ""
    return (
        f"{verdict}: {report.findings.traces_read} traces, {report.findings.spans_read} spans "
        f"read from {report.jaeger_url}, {report.window_start} to {report.window_end}{truncated}"
    )


def render_text(report: Report) -> str:
    out = [f"mesh-tracing doctor: {_summary(report)}"]
    for heading, lines in _sections(report, lambda text: text):
        out.append("")
        out.append(f"{heading}:")
        out.extend(f"  {line}" for line in lines)
    return "\n".join(out) + "\n"


def render_markdown(report: Report) -> str:
    out = ["### mesh-tracing doctor", "", _summary(report)]
    for heading, lines in _sections(report, lambda text: f"`{text}`"):
        out.extend(["", f"#### {heading}", ""])
        out.extend(
            f"  - {line.strip()}" if line.startswith("  ") else f"- {line}" for line in lines
        )
    return "\n".join(out) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
}
