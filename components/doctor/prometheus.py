"""Istio's request metrics from Prometheus: who received and who sent how many requests.

`istio_requests_total` is counted by each proxy's stats filter, labelled with the reporter:
`destination` by the receiving sidecar, `source` by the sending sidecar and by ingress gateways
(their listeners are outbound; only waypoints report as a server gateway: istio/istio
`pilot/pkg/model/telemetry.go`, `Reporter_SERVER_GATEWAY` only `if isWaypoint`; istio/proxy
`source/extensions/filters/http/istio_stats/istio_stats.cc`). A workload without a sidecar so
appears only in its callers' `reporter="source"` series.
"""

from __future__ import annotations

from dataclasses import dataclass

from .transport import CheckError, get_json, with_query

# Not services: Istio's names for traffic to unknown or blocked destinations.
NOT_SERVICES = {"PassthroughCluster", "BlackHoleCluster", "InboundPassthroughCluster", "unknown"}


@dataclass(frozen=True)
class Traffic:
    """Requests counted for one workload in the window, by one reporter."""

    canonical_service: str
    namespace: str
    service_name: str
    reporter: str
    requests: float


class PrometheusClient:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def query(self, promql: str, at_seconds: float) -> list[tuple[dict[str, str], float]]:
        url = with_query(f"{self.base_url}/api/v1/query", {"query": promql, "time": at_seconds})
        document = get_json(url, self.timeout, expected="a Prometheus query answer")
        if not isinstance(document, dict) or document.get("status") != "success":
            error = document.get("error") if isinstance(document, dict) else None
            raise CheckError(f"{url}: not a successful Prometheus query answer: {error!r}")
        data = document.get("data") or {}
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise CheckError(f"{url}: Prometheus answered {data.get('resultType')!r}, not a vector")
        rows = []
        for item in data["result"]:
            try:
                rows.append((dict(item["metric"]), float(item["value"][1])))
            except (KeyError, TypeError, ValueError, IndexError):
                raise CheckError(f"{url}: a result without metric and value: {item!r}") from None
        return rows

    def received(self, window_seconds: int, at_seconds: float) -> list[Traffic]:
        """Requests each destination received, by reporter."""
        by = "destination_canonical_service, destination_workload_namespace, "
        by += "destination_service_name, destination_service_namespace, reporter"
        promql = f"sum by ({by}) (increase(istio_requests_total[{window_seconds}s]))"
        traffic = []
        for labels, value in self.query(promql, at_seconds):
            name = labels.get("destination_service_name", "")
            namespace = labels.get("destination_workload_namespace") or labels.get(
                "destination_service_namespace", ""
            )
            canonical = labels.get("destination_canonical_service", "")
            if value <= 0 or (canonical in NOT_SERVICES and name in NOT_SERVICES | {""}):
                continue
            traffic.append(Traffic(canonical, namespace, name, labels.get("reporter", ""), value))
        return traffic

    def sent(self, window_seconds: int, at_seconds: float) -> list[Traffic]:
        """Requests each workload sent (its sidecar's or gateway's `reporter="source"`)."""
        by = "source_canonical_service, source_workload_namespace, source_workload"
        promql = (
            f'sum by ({by}) (increase(istio_requests_total{{reporter="source"}}'
            f"[{window_seconds}s]))"
        )
        return [
            Traffic(
                labels.get("source_canonical_service", ""),
                labels.get("source_workload_namespace", ""),
                labels.get("source_workload", ""),
                "source",
                value,
            )
            for labels, value in self.query(promql, at_seconds)
            if value > 0
        ]
