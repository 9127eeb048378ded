"""The benchmarks' own arithmetic and bookkeeping, offline (the benchmarks themselves need the
toolchain and are never run as tests): the verdict against the example load, the engine's event
log read for the slowest steps, Jaeger's counters, and the peer's order of work."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from support import PROJECT_DIR, evaluated


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"benchmark_{name}", PROJECT_DIR / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


collector = _load("collector")
deploy = _load("deploy")


def test_the_verdict_counts_replicas_and_needs_twice_the_load() -> None:
    storages = {
        "badger": {"stack": "staging", "capacity_spans_per_second": 1600, "replicas": 1},
        "elasticsearch": {"stack": "prod", "capacity_spans_per_second": 700, "replicas": 2},
    }
    rows = {(r["sampling_percent"], r["stack"]): r for r in collector.verdicts(storages)}
    # 2,000 requests/s x 8 spans x 5 % = 800 spans/s; 1,600 is exactly 2x.
    assert rows[(5, "staging")]["spans_per_second"] == 800
    assert rows[(5, "staging")]["holds_with_2x_headroom"] is True
    # Two replicas of 700 carry 1,400: 1.75x, not enough.
    assert rows[(5, "prod")]["capacity_spans_per_second"] == 1400
    assert rows[(5, "prod")]["holds_with_2x_headroom"] is False
    assert rows[(1, "prod")]["headroom"] == 8.75


def test_jaegers_counters_are_summed_over_receivers_with_or_without_total(
    monkeypatch,
) -> None:
    text = "\n".join(
        [
            "# HELP otelcol_receiver_accepted_spans_total x",
            'otelcol_receiver_accepted_spans_total{transport="grpc"} 100',
            'otelcol_receiver_accepted_spans_total{transport="http"} 20',
            'otelcol_receiver_refused_spans{transport="grpc"} 3',
            'otelcol_exporter_sent_spans_total{exporter="jaeger_storage_exporter"} 118',
            'otelcol_exporter_queue_size{exporter="jaeger_storage_exporter"} 2',
        ]
    )

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *args: object) -> None:
            pass

        def read(self) -> bytes:
            return text.encode()

    monkeypatch.setattr(collector.urllib.request, "urlopen", lambda *a, **k: Response())
    counters = collector.read_counters("http://metrics")
    assert counters["accepted"] == 120
    assert counters["refused"] == 3
    assert counters["sent"] == 118
    assert counters["queue"] == 2
    assert counters["send_failed"] == 0


def test_the_slowest_steps_come_from_the_engines_event_log(tmp_path: Path) -> None:
    urn = "urn:pulumi:dev::mesh-tracing::mesh-tracing:index:Jaeger$kubernetes:helm.sh/v3:Release::"
    events = [
        {
            "timestamp": 10,
            "resourcePreEvent": {"metadata": {"urn": urn + "jaeger", "op": "create"}},
        },
        {"timestamp": 11, "resourcePreEvent": {"metadata": {"urn": urn + "kiali", "op": "create"}}},
        {"timestamp": 12, "resourcePreEvent": {"metadata": {"urn": urn + "same", "op": "same"}}},
        {"timestamp": 13, "resOutputsEvent": {"metadata": {"urn": urn + "kiali"}}},
        {"timestamp": 40, "resOutputsEvent": {"metadata": {"urn": urn + "jaeger"}}},
        {"timestamp": 41, "resOutputsEvent": {"metadata": {"urn": urn + "same"}}},
    ]
    log = tmp_path / "events.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in events))
    steps = deploy.slowest_steps(log)
    assert [s["seconds"] for s in steps] == [30, 2]
    assert steps[0]["resource"].endswith("::jaeger")


def test_the_peer_creates_namespaces_first_and_istios_resources_after_the_charts(
    tmp_path: Path,
) -> None:
    peer = deploy.Peer.of(evaluated("prod"), tmp_path, tmp_path)
    kinds = [o["kind"] for o in peer.objects]
    assert kinds[0] == "Namespace"
    istio = [i for i, o in enumerate(peer.objects) if "istio.io" in o["apiVersion"]]
    assert istio and istio == list(range(len(kinds) - len(istio), len(kinds)))
    assert {r["chart"] for r in peer.releases} == {"jaeger", "kiali-server"}
