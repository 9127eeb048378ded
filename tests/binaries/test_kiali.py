"""Kiali v2.29.0, the version the stacks deploy, runs the `config.yaml` that the kiali-server chart
renders from dev's values (rendered by the real Helm CLI) against a real Kubernetes API (the
local control plane), Debian's Prometheus and the real Jaeger running dev's own `user-config`:
its status API reports the tracing and Prometheus integrations reachable, and a trace stored in
Jaeger for a service, shaped as Istio's Envoy reports it, comes back from Kiali's API for that
service.

Only listen addresses move onto 127.0.0.1 (Jaeger's as in test_jaeger.py; Kiali's own ports
and the two URLs it is given); the test asserts that nothing else in Kiali's config changes.

The proxy serves no Kiali 2.x module version (no `/v2` module path; see scripts/toolchain), so
this binary is built by hand from the upstream v2.29.0 tag (README: "What the real upstream
binaries accept"): `MESH_TRACING_KIALI` names it, default ~/.cache/mesh-tracing/kiali-v2/kiali.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from doctor.envoy_spans import GATEWAY, Emitter, Workload, request
from doctor.servers import PROMETHEUS_MISSING, prometheus_binary, run_prometheus
from support.binaries import (
    eventually,
    free_port,
    http_json,
    localize_jaeger_config,
    started,
    toolchain_programs,
)
from support.e2e import Cli, LocalCluster, charts_dir
from support.rendered import config_document, rendered_stack

KIALI = Path(
    os.environ.get("MESH_TRACING_KIALI")
    or Path.home() / ".cache" / "mesh-tracing" / "kiali-v2" / "kiali"
)
KIALI_VERSION = "v2.29.0"
BIN, WHY_NOT = toolchain_programs("helm,jaeger,etcd,kwok,kube")
CHARTS, NO_CHARTS = charts_dir()
PROMETHEUS = prometheus_binary()
if not KIALI.is_file():
    pytest.skip(
        f"SKIPPED: no Kiali {KIALI_VERSION} binary at {KIALI} (set MESH_TRACING_KIALI; the Go "
        "module proxy serves no Kiali 2.x, see the README)",
        allow_module_level=True,
    )
if BIN is None or CHARTS is None or PROMETHEUS is None:
    pytest.skip(
        WHY_NOT or (f"SKIPPED: Kiali: {NO_CHARTS}" if CHARTS is None else PROMETHEUS_MISSING),
        allow_module_level=True,
    )

REVIEWS = Workload("reviews", "bookinfo")
RATINGS = Workload("ratings", "bookinfo")


def rendered_config(stack: str, name: str) -> dict[str, Any]:
    """A YAML document the stack's charts really render into a ConfigMap in observability."""
    assert BIN is not None and CHARTS is not None
    objects, _ = rendered_stack(stack, BIN / "helm", CHARTS)
    return config_document(objects, "observability", name)


def _flatten(node: Any, path: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{path}.{key}" if path else str(key)))
        return flat
    return {path: node}


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    assert BIN is not None
    cluster = LocalCluster("mesh-tracing-kiali", tmp_path_factory.mktemp("cluster"), BIN)
    path = cluster.up()
    try:
        yield path
    finally:
        cluster.down()


def _service(workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": workload.app, "namespace": workload.namespace},
        "spec": {"selector": {"app": workload.app}, "ports": [{"name": "http", "port": 9080}]},
    }


def test_kiali_runs_our_config_and_serves_a_trace_from_our_jaeger(
    kubeconfig: Path, tmp_path: Path
) -> None:
    assert BIN is not None and PROMETHEUS is not None
    ours = rendered_config("dev", "kiali")
    tracing = ours["external_services"]["tracing"]
    # What dev renders: gRPC to Jaeger's query service, Kiali's own Prometheus.
    assert tracing["use_grpc"] is True
    assert tracing["internal_url"] == "http://jaeger.observability.svc.cluster.local:16685"

    jaeger_local = localize_jaeger_config(rendered_config("dev", "user-config"), None)
    jaeger_config = tmp_path / "jaeger.yaml"
    jaeger_config.write_text(yaml.safe_dump(jaeger_local.config))

    Cli(BIN, kubeconfig, tmp_path / "state").apply(
        [
            *[
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                for name in ("bookinfo", "observability", "istio-system")
            ],
            _service(REVIEWS),
            _service(RATINGS),
        ],
        tmp_path / "objects.yaml",
    )
    jaeger_argv = [str(BIN / "jaeger"), "--config", str(jaeger_config)]
    scraped = f"127.0.0.1:{jaeger_local.port(8888)}"
    with (
        started(jaeger_argv, tmp_path / "jaeger.log") as jaeger,
        run_prometheus(PROMETHEUS, tmp_path / "prometheus", scraped) as prometheus_url,
    ):
        jaeger.wait_http(f"http://127.0.0.1:{jaeger_local.port(13133)}/status")
        local = json.loads(json.dumps(ours))
        local["external_services"]["tracing"]["internal_url"] = (
            f"http://127.0.0.1:{jaeger_local.port(16685)}"
        )
        local["external_services"]["prometheus"]["url"] = prometheus_url
        api_port, metrics_port = free_port(), free_port()
        local["server"]["port"] = api_port
        local["server"]["observability"]["metrics"]["port"] = metrics_port
        changed = {
            key
            for key, value in _flatten(local).items()
            if _flatten(ours).get(key, object()) != value
        }
        assert changed == {
            "external_services.tracing.internal_url",
            "external_services.prometheus.url",
            "server.port",
            "server.observability.metrics.port",
        }
        config = tmp_path / "kiali.yaml"
        config.write_text(yaml.safe_dump(local))

        emitter = Emitter(f"127.0.0.1:{jaeger_local.port(4317)}")
        now = time.time_ns()
        (trace_id,) = request(emitter, GATEWAY, [REVIEWS], now - 60 * 10**9)
        emitter.flush()
        emitter.shutdown()

        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        with started(
            [str(KIALI), "-config", str(config)], tmp_path / "kiali.log", env=env
        ) as kiali:
            api = f"http://127.0.0.1:{api_port}{ours['server']['web_root']}/api"
            kiali.wait_http(f"{api}/status", seconds=120)
            status = http_json(f"{api}/status")
            assert status["status"]["Kiali version"] == KIALI_VERSION, status

            def integrations_healthy() -> dict[str, str]:
                components = {c["name"]: c["status"] for c in http_json(f"{api}/istio/status")}
                assert components.get("tracing") == "Healthy", components
                assert components.get("prometheus") == "Healthy", components
                return components

            eventually(integrations_healthy, 90, (AssertionError, OSError), 1)

            def traces_of(workload: Workload) -> list[str]:
                query = urllib.parse.urlencode(
                    {"startMicros": (now - 3600 * 10**9) // 1000, "limit": 20}
                )
                url = (
                    f"{api}/namespaces/{workload.namespace}/services/{workload.app}/traces?{query}"
                )
                return [t["traceID"] for t in http_json(url)["data"] or []]

            def reviews_trace() -> None:
                assert trace_id in traces_of(REVIEWS), kiali.output()[-2000:]

            eventually(reviews_trace, 90, (AssertionError, OSError), 1)
            # The lookup is by service: ratings took no part in the request.
            assert traces_of(RATINGS) == []
