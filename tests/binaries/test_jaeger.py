"""The real Jaeger v2 binary runs the `user-config` our stacks render (the jaeger chart's
`userconfig` value, taken from the evaluated plan), with only its listen addresses moved to free
127.0.0.1 ports and badger's directories into a temporary directory standing for the volume.

Spans go in over OTLP/gRPC and OTLP/HTTP with the OpenTelemetry Python SDK and come back from
the query API under our base path (what the UI and `mesh-tracing doctor` read) and from the
api_v2 gRPC QueryService (what Kiali reads with `use_grpc`); the health endpoint answers where
the chart's probes look. The search-cluster configs (prod) pass `jaeger validate`, and start
against a stand-in cluster that records what Jaeger asks of it (auth, index prefix).

The binary is Jaeger v2.13.0 (the newest the Go module proxy serves), the chart deploys v2.19.0:
see the README, "What the real upstream binaries accept"."""

from __future__ import annotations

import base64
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from mesh_tracing.plan.evaluate import evaluate
from support import evaluated, helm_release, stack_config
from support.binaries import (
    FakeSearchCluster,
    JaegerQueryClient,
    LocalJaegerConfig,
    Process,
    eventually,
    http_json,
    localize_jaeger_config,
    started,
    toolchain_programs,
)

BIN, WHY_NOT = toolchain_programs("jaeger")
if BIN is None:
    pytest.skip(WHY_NOT, allow_module_level=True)
JAEGER = BIN / "jaeger"

# What the chart's Deployment probes (jaeger-4.11.1 templates/jaeger/jaeger-deploy.yaml): fixed.
CHART_PROBE_PORT, CHART_PROBE_PATH = 13133, "/status"
CREDENTIALS = {"JAEGER_STORAGE_USERNAME": "jaeger-writer", "JAEGER_STORAGE_PASSWORD": "s3cret"}


def userconfig(stack: str) -> dict[str, Any]:
    return helm_release(evaluated(stack), "jaeger")["values"]["userconfig"]


def opensearch_userconfig() -> dict[str, Any]:
    """The prod stack with `jaeger.storage: opensearch` (its elasticsearch section renamed),
    evaluated by the real program like the stack file."""
    config = stack_config("prod")
    jaeger = config["mesh-tracing:jaeger"]
    jaeger["storage"] = "opensearch"
    jaeger["opensearch"] = jaeger.pop("elasticsearch")
    return helm_release(evaluate("prod", config), "jaeger")["values"]["userconfig"]


def storage_of(config: dict[str, Any]) -> str:
    (backend,) = config["extensions"]["jaeger_storage"]["backends"].values()
    (kind,) = backend
    return kind


def validate(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [str(JAEGER), "validate", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **CREDENTIALS},
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "name, storage",
    [("dev", "memory"), ("staging", "badger"), ("prod", "elasticsearch"), ("prod", "opensearch")],
)
def test_our_config_passes_jaegers_validation(name: str, storage: str, tmp_path: Path) -> None:
    config = opensearch_userconfig() if storage == "opensearch" else userconfig(name)
    assert storage_of(config) == storage
    validate(config, tmp_path)


def test_validation_would_catch_a_wrong_key(tmp_path: Path) -> None:
    """`jaeger validate` is strict about keys, so passing it means something."""
    config = userconfig("prod")
    backend = config["extensions"]["jaeger_storage"]["backends"]["primary"]
    broken = {**backend["elasticsearch"], "server_url": backend["elasticsearch"]["server_urls"]}
    del broken["server_urls"]
    with pytest.raises(AssertionError, match="invalid keys: server_url"):
        validate(
            {
                **config,
                "extensions": {
                    **config["extensions"],
                    "jaeger_storage": {"backends": {"primary": {"elasticsearch": broken}}},
                },
            },
            tmp_path,
        )


def _only_addresses_and_paths_changed(local: LocalJaegerConfig) -> None:
    for path, ours, _ in local.changes:
        assert path.endswith((".endpoint", ".prometheus", ".directories")), path
        if path.endswith(".endpoint"):
            assert ours.startswith("0.0.0.0:"), (path, ours)  # listens on all interfaces
    # Every port the chart's Service and probes use is one we configured.
    assert {4317, 4318, 16686, 16685, 13133, 8888} <= set(local.ports)


@contextmanager
def run_stack_config(
    stack: str, tmp_path: Path, volume: Optional[Path] = None
) -> Iterator[tuple[LocalJaegerConfig, Process]]:
    local = localize_jaeger_config(userconfig(stack), volume)
    _only_addresses_and_paths_changed(local)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(local.config))
    with started([str(JAEGER), "--config", str(path)], tmp_path / "jaeger.log") as process:
        process.wait_http(f"http://127.0.0.1:{local.port(CHART_PROBE_PORT)}{CHART_PROBE_PATH}")
        yield local, process


@pytest.fixture(params=["dev", "staging"])
def running(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, LocalJaegerConfig, Process]]:
    volume = tmp_path / "badger-volume"
    volume.mkdir()
    with run_stack_config(request.param, tmp_path, volume) as (local, process):
        yield request.param, local, process


def _send(service: str, exporter: Any) -> str:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("mesh-tracing-tests").start_as_current_span(f"{service}-op") as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
    provider.shutdown()
    return trace_id


def test_spans_over_both_otlp_protocols_come_back_from_both_query_apis(
    running: tuple[str, LocalJaegerConfig, Process],
) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    stack, local, process = running
    sent = {
        f"{stack}-otlp-grpc": _send(
            f"{stack}-otlp-grpc",
            GrpcExporter(endpoint=f"127.0.0.1:{local.port(4317)}", insecure=True),
        ),
        f"{stack}-otlp-http": _send(
            f"{stack}-otlp-http",
            HttpExporter(endpoint=f"http://127.0.0.1:{local.port(4318)}/v1/traces"),
        ),
    }
    base_path = local.config["extensions"]["jaeger_query"]["base_path"]
    assert base_path == "/jaeger"
    query = f"http://127.0.0.1:{local.port(16686)}{base_path}"

    def http_has_all() -> None:
        services = http_json(f"{query}/api/services")["data"] or []
        assert set(sent) <= set(services), services
        for service, trace_id in sent.items():
            traces = http_json(f"{query}/api/traces?service={service}&lookback=1h")["data"] or []
            assert [trace["traceID"] for trace in traces] == [trace_id], traces

    eventually(http_has_all, 20)

    client = JaegerQueryClient(f"127.0.0.1:{local.port(16685)}")
    try:
        assert set(sent) <= set(client.services())
        for service, trace_id in sent.items():
            spans = client.find_traces(service)
            assert [(s.trace_id, s.service, s.operation) for s in spans] == [
                (trace_id, service, f"{service}-op")
            ]
    finally:
        client.close()

    # The chart's probe target, and the metrics port Prometheus would scrape.
    health = http_json(f"http://127.0.0.1:{local.port(13133)}/status")
    assert health["healthy"] is True and health["status"] == "StatusOK", health
    with urllib.request.urlopen(f"http://127.0.0.1:{local.port(8888)}/metrics", timeout=10) as r:
        assert b"otelcol_receiver_accepted_spans" in r.read()
    assert process.popen.poll() is None


def test_badger_keeps_spans_in_the_volume_across_a_restart(tmp_path: Path) -> None:
    """Staging's badger (`ephemeral: false`, directories under the PVC's mount): spans written
    before a restart (a pod replaced with the same volume) are still served after it."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    volume = tmp_path / "badger-volume"
    volume.mkdir()
    with run_stack_config("staging", tmp_path / "first", volume) as (local, _):
        trace_id = _send(
            "staging-badger",
            OTLPSpanExporter(endpoint=f"127.0.0.1:{local.port(4317)}", insecure=True),
        )
        query = f"http://127.0.0.1:{local.port(16686)}/jaeger/api/traces/{trace_id}"
        eventually(lambda: _assert_trace(query, trace_id), 20)
    directories = local.config["extensions"]["jaeger_storage"]["backends"]["primary"]["badger"][
        "directories"
    ]
    for directory in directories.values():
        assert Path(directory).parent == volume and any(Path(directory).iterdir()), directory
    with run_stack_config("staging", tmp_path / "second", volume) as (local, _):
        _assert_trace(
            f"http://127.0.0.1:{local.port(16686)}/jaeger/api/traces/{trace_id}", trace_id
        )


def _assert_trace(url: str, trace_id: str) -> None:
    try:
        data = http_json(url)["data"] or []
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{url}: {error.code}") from error
    assert [trace["traceID"] for trace in data] == [trace_id], data


@pytest.mark.parametrize("storage", ["elasticsearch", "opensearch"])
def test_search_cluster_config_starts_and_writes_with_our_prefix_and_credentials(
    storage: str, tmp_path: Path
) -> None:
    """The prod config against a stand-in cluster on 127.0.0.1 (the one value changed beside
    the listen addresses is `server_urls`): Jaeger starts healthy, authenticates with the
    credentials from the environment variables the chart's extraEnv sets, creates its index
    templates and writes spans under our index prefix."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    config = opensearch_userconfig() if storage == "opensearch" else userconfig("prod")
    local = localize_jaeger_config(config, None)
    _only_addresses_and_paths_changed(local)
    settings = local.config["extensions"]["jaeger_storage"]["backends"]["primary"][storage]
    prefix = settings["indices"]["index_prefix"]
    assert settings["auth"]["basic"] == {
        "username": "${env:JAEGER_STORAGE_USERNAME}",
        "password": "${env:JAEGER_STORAGE_PASSWORD}",
    }
    cluster = FakeSearchCluster(storage)
    settings["server_urls"] = [cluster.url]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(local.config))
    try:
        with started(
            [str(JAEGER), "--config", str(path)],
            tmp_path / "jaeger.log",
            env={**os.environ, **CREDENTIALS},
        ) as process:
            process.wait_http(f"http://127.0.0.1:{local.port(CHART_PROBE_PORT)}{CHART_PROBE_PATH}")
            _send(
                "prod-svc",
                OTLPSpanExporter(endpoint=f"127.0.0.1:{local.port(4317)}", insecure=True),
            )

            def bulk_written() -> None:
                bodies = b"".join(r.body for r in cluster.requests if r.path.startswith("/_bulk"))
                assert f'"_index":"{prefix}-jaeger-span-'.encode() in bodies, process.output()

            eventually(bulk_written, 20)
    finally:
        cluster.close()
    expected = "Basic " + base64.b64encode(b"jaeger-writer:s3cret").decode()
    assert {r.authorization for r in cluster.requests} == {expected}
    templates = {r.path for r in cluster.requests if "template" in r.path}
    assert any(p.endswith(f"/{prefix}-jaeger-span") for p in templates), templates
    assert any(p.endswith(f"/{prefix}-jaeger-service") for p in templates), templates
