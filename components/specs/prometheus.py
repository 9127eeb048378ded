"""Helm values for the prometheus-community `prometheus` chart, set up for Istio's metrics."""

from __future__ import annotations

from typing import Any, Optional

from ..config import PrometheusConfig
from .common import NO_SIDECAR_LABELS, service_host
from .images import CONFIG_RELOADER_IMAGE, PROMETHEUS_IMAGE, mirrored

SERVER_PORT = 80
# The chart's other default jobs: node, cAdvisor, API server and service metrics (large, and not
# what Kiali reads), and probes of a pushgateway and a blackbox exporter this release does not run.
_JOBS_KIALI_DOES_NOT_READ = (
    "kubernetes-api-servers",
    "kubernetes-nodes",
    "kubernetes-nodes-cadvisor",
    "kubernetes-service-endpoints",
    "kubernetes-service-endpoints-slow",
    "kubernetes-pods-slow",
    "kubernetes-services",
    "prometheus-pushgateway",
)


def prometheus_server_url(release: str, namespace: str) -> str:
    """The chart names the server Service `<release>-server` when the release name contains
    'prometheus', and serves it on port 80."""
    service = f"{release}-server" if "prometheus" in release else f"{release}-prometheus-server"
    return f"http://{service_host(service, namespace)}:{SERVER_PORT}"


def prometheus_values(
    settings: PrometheusConfig, image_registry: Optional[str] = None
) -> dict[str, Any]:
    """Only the server: Kiali reads Istio's standard metrics and nothing else.

    Istio merges each sidecar's and app's metrics behind the `prometheus.io/*` pod annotations it
    writes at injection (port 15020, path /stats/prometheus), and annotates istiod the same way;
    the chart's `kubernetes-pods` job is the annotation-driven job Istio documents for that, so it
    stays on, beside Prometheus' own metrics; the chart's other jobs are switched off.
    """
    values: dict[str, Any] = {
        "alertmanager": {"enabled": False},
        "kube-state-metrics": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "server": {
            "retention": settings.retention,
            "persistentVolume": {"enabled": True, "size": settings.volume_size},
            # Scraping pod IPs from inside the mesh would go through a sidecar and mTLS.
            "podLabels": dict(NO_SIDECAR_LABELS),
            "resources": {
                "requests": {"cpu": "200m", "memory": "512Mi"},
                "limits": {"memory": "2Gi"},
            },
            # Istio's sample Prometheus scrapes every 15s; the chart's 1m default blurs Kiali's
            # traffic graph.
            "global": {"scrape_interval": "15s"},
        },
        "configmapReload": {
            "prometheus": {
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"memory": "64Mi"},
                }
            }
        },
        "scrapeConfigs": {
            "kubernetes-pods": {"enabled": True},
            "prometheus": {"enabled": True},
            **{job: {"enabled": False} for job in _JOBS_KIALI_DOES_NOT_READ},
        },
    }
    if image_registry is not None:
        values["server"]["image"] = {"repository": mirrored(PROMETHEUS_IMAGE, image_registry)}
        values["configmapReload"]["prometheus"]["image"] = {
            "repository": mirrored(CONFIG_RELOADER_IMAGE, image_registry)
        }
    return values
