"""Helm values and the OpenTelemetry-collector config for the Jaeger v2 chart (4.x).

Chart 4.x runs one all-in-one Deployment behind one Service named after the release, reads the
collector config only from the top-level `userconfig`, and probes `/status` on 13133.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Optional

from ..config import JaegerConfig
from .common import NO_SIDECAR_LABELS, service_host

OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
QUERY_HTTP_PORT = 16686
QUERY_GRPC_PORT = 16685
HEALTH_PORT = 13133
METRICS_PORT = 8888

STORAGE_NAME = "primary"
BADGER_MOUNT_PATH = "/badger"
BADGER_VOLUME_NAME = "badger-data"
CREDENTIAL_USERNAME_KEY = "username"
CREDENTIAL_PASSWORD_KEY = "password"
_USERNAME_ENV = "JAEGER_STORAGE_USERNAME"
_PASSWORD_ENV = "JAEGER_STORAGE_PASSWORD"
CONFIG_HASH_LABEL = "mesh-tracing.io/config-hash"

# Sized for the storage: memory holds every trace in the heap; the search backends only buffer.
# Measured (benchmarks/collector.py, README "Sizing Jaeger"): at these CPU requests, one replica
# sustains the README's example load at 5 % (800 spans/s) with at least 2x headroom. Badger,
# which cannot add replicas, sustained 1,350 spans/s at 200m, hence 500m.
_RESOURCES = {
    "memory": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    "badger": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    "elasticsearch": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    "opensearch": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
}


def go_memory_limit(container_limit: str) -> str:
    """GOMEMLIMIT at 90 % of the container's memory limit. Go does not read the cgroup's limit:
    without this the heap grows to twice the live data before a collection, and a pod whose
    live data fits its limit is OOM-killed on the way (benchmarks/collector.py)."""
    mebibytes = int(container_limit[:-2]) * (1024 if container_limit.endswith("Gi") else 1)
    return f"{mebibytes * 9 // 10}MiB"


def jaeger_service_name(release: str) -> str:
    """The chart names its Service after the release when the release name contains 'jaeger'."""
    return release if "jaeger" in release else f"{release}-jaeger"


def _listen(port: int) -> str:
    # OpenTelemetry components default to localhost; inside a pod that is unreachable from the
    # Service and from the kubelet's probes.
    return f"0.0.0.0:{port}"


def storage_backend(settings: JaegerConfig, has_credentials: bool) -> dict[str, Any]:
    """The `jaeger_storage` backend entry for the configured storage."""
    if settings.storage == "memory":
        return {"memory": {"max_traces": settings.memory_max_traces}}
    if settings.storage == "badger":
        return {
            "badger": {
                "directories": {
                    "keys": f"{BADGER_MOUNT_PATH}/keys",
                    "values": f"{BADGER_MOUNT_PATH}/values",
                },
                # Badger defaults to ephemeral, which ignores the directories and keeps nothing.
                "ephemeral": False,
                "ttl": {"spans": settings.badger.span_retention},
            }
        }
    store = settings.search_store
    assert store is not None, "validated: search storage has its endpoint"
    backend: dict[str, Any] = {"server_urls": [store.url]}
    if store.index_prefix is not None:
        backend["indices"] = {"index_prefix": store.index_prefix}
    if has_credentials:
        backend["auth"] = {
            "basic": {
                "username": f"${{env:{_USERNAME_ENV}}}",
                "password": f"${{env:{_PASSWORD_ENV}}}",
            }
        }
    return {settings.storage: backend}


def collector_config(settings: JaegerConfig, has_credentials: bool) -> dict[str, Any]:
    """Jaeger v2's own configuration: OTLP in, one storage backend, the query service, health."""
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {
                "metrics": {
                    "level": "detailed",
                    "readers": [
                        {
                            "pull": {
                                "exporter": {
                                    "prometheus": {"host": "0.0.0.0", "port": METRICS_PORT}
                                }
                            }
                        }
                    ],
                }
            },
        },
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": _listen(HEALTH_PORT)}},
            "jaeger_storage": {
                "backends": {STORAGE_NAME: storage_backend(settings, has_credentials)}
            },
            "jaeger_query": {
                "storage": {"traces": STORAGE_NAME},
                "base_path": settings.query_base_path,
                "http": {"endpoint": _listen(QUERY_HTTP_PORT)},
                "grpc": {"endpoint": _listen(QUERY_GRPC_PORT)},
            },
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": _listen(OTLP_GRPC_PORT)},
                    "http": {"endpoint": _listen(OTLP_HTTP_PORT)},
                }
            }
        },
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORAGE_NAME}},
    }


def config_hash(config: dict[str, Any]) -> str:
    """A label value that changes with the config: the chart does not roll pods on its own."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def jaeger_values(
    settings: JaegerConfig,
    *,
    badger_claim: Optional[str],
    credentials_secret: Optional[str],
    image_registry: Optional[str] = None,
) -> dict[str, Any]:
    """Chart values. Credentials only ever arrive as Secret references, never as values."""
    config = collector_config(settings, credentials_secret is not None)
    stateless = settings.storage in ("elasticsearch", "opensearch")
    jaeger: dict[str, Any] = {
        "replicas": settings.replicas,
        # Memory and badger are single-pod state: the old pod must release it before the new one
        # starts. Search backends are shared, so roll without dropping below the replica count.
        "strategy": (
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
            if stateless
            else {"type": "Recreate"}
        ),
        "podLabels": {**NO_SIDECAR_LABELS, CONFIG_HASH_LABEL: config_hash(config)},
        # Stated, not left to the chart's default: nothing here is meant to leave the cluster.
        "service": {"type": "ClusterIP"},
        "resources": _RESOURCES[settings.storage],
    }
    if image_registry is not None:
        # The chart (bitnami common's image helper) prefixes `registry/` to the repository.
        jaeger["image"] = {"registry": image_registry}
    memory_limit = _RESOURCES[settings.storage]["limits"]["memory"]
    jaeger["extraEnv"] = [{"name": "GOMEMLIMIT", "value": go_memory_limit(memory_limit)}]
    if credentials_secret is not None:
        jaeger["extraEnv"] += [
            {
                "name": env,
                "valueFrom": {"secretKeyRef": {"name": credentials_secret, "key": key}},
            }
            for env, key in (
                (_USERNAME_ENV, CREDENTIAL_USERNAME_KEY),
                (_PASSWORD_ENV, CREDENTIAL_PASSWORD_KEY),
            )
        ]
    if badger_claim is not None:
        jaeger["extraVolumes"] = [
            {"name": BADGER_VOLUME_NAME, "persistentVolumeClaim": {"claimName": badger_claim}}
        ]
        jaeger["extraVolumeMounts"] = [{"name": BADGER_VOLUME_NAME, "mountPath": BADGER_MOUNT_PATH}]
    return {"jaeger": jaeger, "userconfig": config}


def jaeger_endpoints(release: str, namespace: str, query_base_path: str) -> dict[str, Any]:
    """Where the chart's Service answers, for the mesh's extension provider and for Kiali."""
    host = service_host(jaeger_service_name(release), namespace)
    path = "" if query_base_path == "/" else query_base_path
    return {
        "service_host": host,
        "otlp_grpc_port": OTLP_GRPC_PORT,
        "otlp_grpc_endpoint": f"{host}:{OTLP_GRPC_PORT}",
        "query_http_url": f"http://{host}:{QUERY_HTTP_PORT}{path}",
        "query_grpc_url": f"http://{host}:{QUERY_GRPC_PORT}",
    }


def selector_labels(release: str) -> dict[str, str]:
    """Labels the chart puts on the Jaeger pods, for PodDisruptionBudgets and NetworkPolicies."""
    return {
        "app.kubernetes.io/name": "jaeger",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "all-in-one",
    }


def _namespace_selector(namespace: str) -> dict[str, Any]:
    # Kubernetes labels every namespace with its own name since 1.21.
    return {"matchLabels": {"kubernetes.io/metadata.name": namespace}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def network_policy_spec(
    release: str, kiali_namespace: Optional[str], ingress_namespaces: Sequence[str]
) -> dict[str, Any]:
    """Who may reach the Jaeger pods.

    OTLP comes from every sidecar in the mesh, so it is open to all namespaces; health (the
    kubelet's probes) and metrics carry nothing sensitive. Traces are: the query ports admit only
    Kiali's pods and the listed ingress namespaces.
    """
    query_clients = [
        {"namespaceSelector": _namespace_selector(namespace)} for namespace in ingress_namespaces
    ]
    if kiali_namespace is not None:
        query_clients.insert(
            0,
            {
                "namespaceSelector": _namespace_selector(kiali_namespace),
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kiali"}},
            },
        )
    ingress: list[dict[str, Any]] = [
        {"ports": _tcp(OTLP_GRPC_PORT, OTLP_HTTP_PORT, HEALTH_PORT, METRICS_PORT)}
    ]
    if query_clients:
        ingress.append({"from": query_clients, "ports": _tcp(QUERY_HTTP_PORT, QUERY_GRPC_PORT)})
    return {
        "podSelector": {"matchLabels": selector_labels(release)},
        "policyTypes": ["Ingress"],
        "ingress": ingress,
    }
