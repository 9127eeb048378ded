"""The command's edges without the real binaries: usage, exit codes, clear messages for bad or
missing servers (never a traceback), and paging through a window, against a small stand-in
that answers with recorded Jaeger query API answers."""

from __future__ import annotations

import io
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mesh_tracing.doctor.cli import duration
from mesh_tracing.doctor.jaeger import JaegerClient
from mesh_tracing.plan import cli
from support import PROJECT_DIR

RECORDED = Path(__file__).parent / "recorded"


class _Recorded(ThreadingHTTPServer):
    traces: list[dict[str, Any]]
    answer: tuple[int, str, bytes] | None = None
    searches: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Recorded

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.server.answer is not None:
            self._send(*self.server.answer)
            return
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        traces = self.server.traces
        if url.path == "/jaeger/api/services":
            names = {p["serviceName"] for t in traces for p in t["processes"].values()}
            data: Any = sorted(names)
        elif url.path == "/jaeger/api/traces":
            self.server.searches += 1
            start, end = int(query["start"]), int(query["end"])
            data = [
                trace
                for trace in traces
                if any(
                    trace["processes"][span["processID"]]["serviceName"] == query["service"]
                    and start <= span["startTime"] <= end
                    for span in trace["spans"]
                )
            ][: int(query["limit"])]
        elif url.path.startswith("/jaeger/api/traces/"):
            # Jaeger v2's answer for a trace it does not have, as recorded.
            body = b'{"data":null,"total":0,"limit":0,"offset":0,'
            body += b'"errors":[{"code":404,"msg":"trace not found"}]}'
            self._send(404, "application/json", body)
            return
        else:
            self._send(404, "text/plain", b"404 page not found")
            return
        self._send(200, "application/json", json.dumps({"data": data, "errors": None}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def jaeger() -> Iterator[_Recorded]:
    server = _Recorded(("127.0.0.1", 0), _Handler)
    server.traces = json.loads((RECORDED / "b-drops-headers.json").read_text())["data"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _Recorded) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/jaeger"


def _run(*arguments: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = cli.run(["doctor", *arguments], stdout=stdout, stderr=stderr)
    return status, stdout.getvalue(), stderr.getvalue()


def _window(server: _Recorded) -> tuple[int, int]:
    starts = [span["startTime"] for trace in server.traces for span in trace["spans"]]
    return min(starts) - 1_000_000, max(starts) + 60_000_000


def test_a_full_window_is_split_until_every_trace_is_read(jaeger: _Recorded) -> None:
    start, end = _window(jaeger)
    window = JaegerClient(_url(jaeger)).read_window(["b.payments"], start, end, limit=3)
    assert len(window.traces) == 6 and not window.truncated
    assert jaeger.searches > 1


def test_reading_stops_at_max_traces_and_says_so(jaeger: _Recorded) -> None:
    start, end = _window(jaeger)
    window = JaegerClient(_url(jaeger)).read_window(
        ["b.payments"], start, end, limit=3, max_traces=4
    )
    assert len(window.traces) == 4 and window.truncated


def test_the_report_names_the_break_and_exits_2(jaeger: _Recorded) -> None:
    status, stdout, stderr = _run("--jaeger-url", _url(jaeger), "--lookback", "1000d")
    assert status == 2, stderr
    assert stdout.startswith("mesh-tracing doctor: 1 problem(s) found: 6 traces")
    assert "b.payments: 3 outbound calls started new traces" in stdout


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((500, "text/plain", b"storage unavailable"), "HTTP 500 instead of a Jaeger query API"),
        ((200, "text/html", b"<!DOCTYPE html><html>"), "answered HTTP 200 but not with JSON"),
        ((200, "application/json", b'{"status": "ok"}'), "not a Jaeger query API answer"),
    ],
)
def test_a_bad_answer_is_a_clear_failure_naming_the_url(
    jaeger: _Recorded, answer: tuple[int, str, bytes], message: str
) -> None:
    jaeger.answer = answer
    status, stdout, stderr = _run("--jaeger-url", _url(jaeger))
    assert status == 1 and stdout == ""
    assert f"{_url(jaeger)}/api/services" in stderr and message in stderr
    assert "Traceback" not in stderr


def test_an_unreachable_url_is_a_clear_failure() -> None:
    from doctor.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/jaeger"
    status, _, stderr = _run("--jaeger-url", url)
    assert status == 1
    assert stderr.startswith(f"mesh-tracing doctor: could not check: {url}/api/services: ")
    assert "could not connect" in stderr


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--jaeger-url", "http://127.0.0.1:1/jaeger", "--lookback", "5 minutes"],
        ["--jaeger-url", "http://127.0.0.1:1/jaeger", "--format", "yaml"],
        ["--jaeger-url", "http://127.0.0.1:1/jaeger", "--probe-count", "0"],
    ],
)
def test_wrong_usage_exits_64(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.run(["doctor", *arguments])
    assert stopped.value.code == cli.EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--jaeger-url", "127.0.0.1:16686"], "--jaeger-url 127.0.0.1:16686: not an http(s)://"),
        (["--jaeger-url", "http://x/jaeger", "--expect", "a"], "--expect needs --probe"),
        (
            ["--jaeger-url", "http://x/jaeger", "--stack", "qa", "--project-dir", str(PROJECT_DIR)],
            "no stack 'qa'",
        ),
    ],
)
def test_wrong_values_exit_64_with_a_message(arguments: list[str], message: str) -> None:
    status, _, stderr = _run(*arguments)
    assert status == 64
    assert message in stderr


def test_durations() -> None:
    assert duration("1h30m") == 5400
    assert duration("15s") == 15
    assert duration("250ms") == 0.25


def test_the_command_lists_doctor(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.run(["--help"])
    assert "doctor" in capsys.readouterr().out


def test_the_readme_section_shows_a_report_the_command_prints() -> None:
    from mesh_tracing.doctor.analysis import Findings
    from mesh_tracing.doctor.report import Report, render_text

    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split("\n## Find where traces break\n", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```")
    commands = [line for line in blocks[1].splitlines() if "mesh-tracing doctor" in line]
    assert commands and all(line.startswith(".venv/bin/mesh-tracing doctor ") for line in commands)
    example = blocks[3].strip("\n").splitlines()
    assert example[0].startswith("mesh-tracing doctor: 2 problem(s) found: ")
    empty = Report("http://x/jaeger", "http://y", None, "a", "b", 1, False, Findings(0, 0))
    headings = [line for line in render_text(empty).splitlines() if line.endswith(":")]
    assert headings == [
        "Broken propagation:",
        "Untraced services:",
        "Observed sampling:",
        "Orphan spans:",
    ]
    for heading in headings:
        assert heading in example


def test_a_probe_trace_jaeger_never_gets_is_reported_missing(jaeger: _Recorded) -> None:
    """Jaeger v2 answers 404 with `trace not found` for a trace it does not have (recorded
    body): the probe waits its bounded time, then says the trace never arrived."""
    from mesh_tracing.doctor.probe import run_probe

    jaeger.traces = []
    ticks = iter(range(1000))
    result = run_probe(
        f"{_url(jaeger)}/probe",
        JaegerClient(_url(jaeger)),
        count=2,
        wait_seconds=5,
        clock=lambda: float(next(ticks)),
        sleep=lambda seconds: None,
    )
    assert [(item.status, item.found) for item in result.traces] == [(404, False), (404, False)]
    assert result.problems == 2
    assert all(len(item.trace_id) == 32 for item in result.traces)
    from mesh_tracing.doctor.analysis import Findings
    from mesh_tracing.doctor.report import Report, render_markdown, render_text

    report = Report(_url(jaeger), None, None, "a", "b", 1, False, Findings(0, 0), result)
    for render in (render_text, render_markdown):
        text = render(report)
        assert "2 problem(s) found" in text
        assert f"{result.traces[0].trace_id}" in text and "not in Jaeger" in text
