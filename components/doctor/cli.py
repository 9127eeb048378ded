"""`mesh-tracing doctor`: the subcommand's options, and the run that wires the checks together.

exit codes:
  0   no problem found
  2   problems found
  1   could not check (an unreachable URL, an answer that is not the API's, an invalid stack)
  64  wrong usage
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, TextIO

from .analysis import diagnose
from .jaeger import JaegerClient
from .prometheus import PrometheusClient
from .report import RENDERERS, Report
from .stack import ConfiguredSampling, StackNotFound, load_configured_sampling
from .transport import CheckError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_PROBLEMS = 2
EXIT_USAGE = 64

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def duration(text: str) -> float:
    """`90s`, `15m`, `1h30m`, `2d` in seconds; argparse turns a ValueError into a usage error."""
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use 30s, 15m, 1h, 1h30m, 2d)")
    seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"not a positive duration: {text!r}")
    return seconds


def _services(text: str) -> list[str]:
    return [name for name in (part.strip() for part in text.split(",")) if name]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def add_parser(subcommands: Any) -> argparse.ArgumentParser:
    """The `doctor` subcommand, on the `mesh-tracing` command's subparsers."""
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "doctor",
        help="find where traces break, and how much is really sampled",
        description="Read recent traces from Jaeger's query API (and Istio's request metrics "
        "from Prometheus) and report services that break traces by not forwarding the trace "
        "headers, services without spans, spans whose parent never arrived, and the sampling "
        "each gateway and trace-start point really gets.",
        epilog="exit codes:" + (__doc__ or "").split("\nexit codes:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--jaeger-url",
        required=True,
        metavar="URL",
        help="Jaeger's query base URL, with its base path (a port-forward to the stack's "
        "jaeger_ui_url: http://127.0.0.1:16686/jaeger)",
    )
    parser.add_argument(
        "--prometheus-url",
        metavar="URL",
        help="Prometheus with Istio's istio_requests_total: enables the untraced-services and "
        "observed-sampling checks",
    )
    parser.add_argument(
        "--lookback",
        type=duration,
        default=duration("1h"),
        metavar="DURATION",
        help="how far back to read (default 1h; 30s, 15m, 1h30m, 2d)",
    )
    parser.add_argument(
        "--service",
        action="extend",
        nargs="+",
        default=[],
        metavar="S",
        help="read only traces that touch these Jaeger services (default: every service)",
    )
    parser.add_argument("--probe", metavar="URL", help="send traced requests there and follow them")
    parser.add_argument(
        "--expect",
        type=_services,
        default=[],
        metavar="SVC,...",
        help="with --probe: services every probe trace must pass through (a problem otherwise)",
    )
    parser.add_argument(
        "--probe-count", type=_positive, default=3, metavar="N", help="probe requests (3)"
    )
    parser.add_argument(
        "--probe-wait",
        type=duration,
        default=duration("30s"),
        metavar="DURATION",
        help="how long to wait for the probe traces in Jaeger (default 30s)",
    )
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="compare observed sampling with this stack's configuration (stacks/Pulumi.NAME.yaml)",
    )
    parser.add_argument(
        "--project-dir",
        metavar="DIR",
        type=Path,
        default=Path("."),
        help="the Pulumi project holding --stack (default: the current directory)",
    )
    parser.add_argument(
        "--limit",
        type=_positive,
        default=500,
        metavar="N",
        help="traces per Jaeger search; a fuller window is split (default 500)",
    )
    parser.add_argument(
        "--max-traces",
        type=_positive,
        default=5000,
        metavar="N",
        help="stop reading after this many traces (default 5000)",
    )
    parser.add_argument(
        "--settle",
        type=duration,
        default=duration("15s"),
        metavar="DURATION",
        help="traces with spans this recent may still be arriving: no orphans counted in them "
        "(default 15s; proxies flush spans every 5 s)",
    )
    parser.add_argument(
        "--timeout",
        type=duration,
        default=duration("10s"),
        metavar="DURATION",
        help="per HTTP request (default 10s)",
    )
    return parser


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Run the doctor for parsed arguments; never raises, every failure is a message and a code."""
    if arguments.expect and not arguments.probe:
        stderr.write("mesh-tracing doctor: error: --expect needs --probe\n")
        return EXIT_USAGE
    for option in ("jaeger_url", "prometheus_url", "probe"):
        value = getattr(arguments, option)
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            flag = "--" + option.replace("_", "-")
            stderr.write(f"mesh-tracing doctor: error: {flag} {value}: not an http(s):// URL\n")
            return EXIT_USAGE
    try:
        return _run(arguments, stdout, stderr)
    except StackNotFound as error:
        stderr.write(f"mesh-tracing doctor: error: {error}\n")
        return EXIT_USAGE
    except CheckError as error:
        stderr.write(f"mesh-tracing doctor: could not check: {error}\n")
        return EXIT_FAILURE
    except Exception as error:  # every failure becomes a message and an exit code
        stderr.write(f"mesh-tracing doctor: could not check: {type(error).__name__}: {error}\n")
        return EXIT_FAILURE


def _configured(arguments: argparse.Namespace, stderr: TextIO) -> Optional[ConfiguredSampling]:
    if arguments.stack is None:
        return None
    from ..config import ConfigError
    from ..plan.evaluate import StackFileError

    try:
        return load_configured_sampling(arguments.project_dir, arguments.stack)
    except (ConfigError, StackFileError) as error:
        raise CheckError(f"--stack {arguments.stack}: {error}") from None


def _run(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    configured = _configured(arguments, stderr)
    jaeger = JaegerClient(arguments.jaeger_url, timeout=arguments.timeout)
    end = time.time()
    start = end - arguments.lookback
    services = arguments.service or jaeger.services()
    window = jaeger.read_window(
        services,
        int(start * 1_000_000),
        int(end * 1_000_000),
        limit=arguments.limit,
        max_traces=arguments.max_traces,
    )
    received = sent = None
    if arguments.prometheus_url:
        prometheus = PrometheusClient(arguments.prometheus_url, timeout=arguments.timeout)
        seconds = max(1, round(arguments.lookback))
        received = prometheus.received(seconds, end)
        sent = prometheus.sent(seconds, end)
    findings = diagnose(
        window.traces,
        settled_before_us=int((end - arguments.settle) * 1_000_000),
        received=received,
        sent=sent,
        configured=configured,
    )
    probe = None
    if arguments.probe:
        from .probe import run_probe

        probe = run_probe(
            arguments.probe,
            jaeger,
            count=arguments.probe_count,
            wait_seconds=arguments.probe_wait,
            expected=arguments.expect,
            timeout=arguments.timeout,
        )
    report = Report(
        jaeger_url=jaeger.base_url,
        prometheus_url=arguments.prometheus_url,
        stack=arguments.stack,
        window_start=_iso(start),
        window_end=_iso(end),
        window_seconds=round(arguments.lookback),
        truncated=window.truncated,
        findings=findings,
        probe=probe,
    )
    stdout.write(RENDERERS[arguments.format](report))
    return EXIT_PROBLEMS if report.problems else EXIT_OK
