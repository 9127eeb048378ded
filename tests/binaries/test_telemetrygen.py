"""telemetrygen, the OpenTelemetry load generator the benchmarks against the real Jaeger use,
sends traces over OTLP/gRPC to Jaeger running dev's `user-config` (listen addresses moved to
127.0.0.1), and every trace is then served by the query API under our base path: the pair works
as the benchmarks need it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from support import evaluated, helm_release
from support.binaries import http_json, localize_jaeger_config, started, toolchain_programs

BIN, WHY_NOT = toolchain_programs("telemetrygen,jaeger")
if BIN is None:
    pytest.skip(WHY_NOT, allow_module_level=True)

TRACES = 20


def test_telemetrygen_traces_reach_jaeger_running_our_config(tmp_path: Path) -> None:
    assert BIN is not None
    local = localize_jaeger_config(
        helm_release(evaluated("dev"), "jaeger")["values"]["userconfig"], None
    )
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(local.config))
    with started([str(BIN / "jaeger"), "--config", str(config)], tmp_path / "jaeger.log") as jaeger:
        jaeger.wait_http(f"http://127.0.0.1:{local.port(13133)}/status")
        result = subprocess.run(
            [
                str(BIN / "telemetrygen"),
                "traces",
                "--otlp-endpoint",
                f"127.0.0.1:{local.port(4317)}",
                "--otlp-insecure",
                "--traces",
                str(TRACES),
                "--rate",
                "0",
                "--service",
                "telemetrygen-smoke",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        query = f"http://127.0.0.1:{local.port(16686)}/jaeger/api/traces"
        url = f"{query}?service=telemetrygen-smoke&lookback=1h&limit={TRACES * 2}"
        deadline = time.monotonic() + 30
        while True:
            traces = http_json(url)["data"] or []
            if len(traces) >= TRACES or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        # Each of telemetrygen's traces is a parent and a child span.
        assert len(traces) == TRACES, jaeger.output()[-2000:]
        assert all(len(trace["spans"]) == 2 for trace in traces)
