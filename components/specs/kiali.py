"""Helm values for the kiali-server chart, wired to Jaeger and Prometheus."""

from __future__ import annotations

import secrets
from typing import Any, Optional

from ..config import KialiConfig
from .charts import KIALI_CHART
from .common import NO_SIDECAR_LABELS
from .images import KIALI_IMAGE, mirrored

OIDC_SECRET_KEY = "oidc-secret"
SIGNING_KEY_SECRET_KEY = "signing-key"
SIGNING_KEY_LENGTH = 32
"""Kiali takes an AES key of 16, 24 or 32 bytes."""


def new_signing_key() -> str:
    """A fresh session signing key: 32 hexadecimal characters from the system's CSPRNG."""
    return secrets.token_hex(SIGNING_KEY_LENGTH // 2)


def kiali_values(
    settings: KialiConfig,
    *,
    jaeger_internal_url: Any,
    jaeger_external_url: Optional[str],
    prometheus_url: Any,
    istio_root_namespace: str,
    signing_key_secret: str,
    oidc_secret: Optional[str],
    image_registry: Optional[str] = None,
) -> dict[str, Any]:
    """Chart values; URLs may be Pulumi outputs, everything else is plain data.

    `jaeger_internal_url` is Jaeger's query gRPC URL (host:16685; Kiali dials host and port only)
    when `use_grpc` is set, else its HTTP URL with the query base path (Kiali appends /api/...).

    Credentials never appear here: the chart reads the signing key through a `secret:NAME:KEY`
    reference and the OIDC client secret from the Secret named by `deployment.secret_name`, so
    these values stay readable in a preview diff.
    """
    auth: dict[str, Any] = {"strategy": settings.auth}
    if settings.openid is not None:
        auth["openid"] = {
            "issuer_uri": settings.openid.issuer_uri,
            "client_id": settings.openid.client_id,
            "username_claim": settings.openid.username_claim,
            "scopes": list(settings.openid.scopes),
        }
    tracing: dict[str, Any] = {
        "enabled": True,
        "provider": "jaeger",
        "internal_url": jaeger_internal_url,
        "use_grpc": settings.use_grpc,
        # With gRPC, Kiali's version probe strips the port and tries plain HTTP on port 80, where
        # Jaeger serves nothing; the probe's failure is noise in Kiali's status.
        "disable_version_check": settings.use_grpc,
    }
    if jaeger_external_url is not None:
        tracing["external_url"] = jaeger_external_url
    deployment: dict[str, Any] = {
        "replicas": settings.replicas,
        "view_only_mode": settings.view_only,
        "pod_labels": dict(NO_SIDECAR_LABELS),
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"memory": "1Gi"},
        },
    }
    if settings.replicas > 1:
        deployment["pod_disruption_budget"] = {"spec": {"maxUnavailable": 1}}
    if oidc_secret is not None:
        deployment["secret_name"] = oidc_secret
    if image_registry is not None:
        deployment["image_name"] = mirrored(KIALI_IMAGE, image_registry)
    return {
        "auth": auth,
        "deployment": deployment,
        "login_token": {"signing_key": f"secret:{signing_key_secret}:{SIGNING_KEY_SECRET_KEY}"},
        "external_services": {
            "prometheus": {"url": prometheus_url},
            "tracing": tracing,
            # Kiali turns Grafana on by default and then reports it unreachable.
            "grafana": {"enabled": False},
            # Left empty, the chart writes the release's namespace (ours: observability) into
            # Kiali's config as the mesh's root namespace. Kiali 2.29 takes the root namespace
            # from istiod's mesh config and ignores this key, but its config should not lie to
            # the people and tools that read it (and Kiali 1.x did read it).
            "istio": {"root_namespace": istio_root_namespace},
        },
    }


__all__ = ["KIALI_CHART", "kiali_values"]
