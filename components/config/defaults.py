"""Per-environment defaults, the production sampling cap, and which keys are credentials."""

from __future__ import annotations

from typing import Any, Literal

from mesh_tracing_production import (
    DEFAULT_PRODUCTION_STACK_PATTERNS,
    PRODUCTION_SAMPLING_CAP_PERCENT,
    is_production,
    named_like_production,
)

CONFIG_NAMESPACE = "mesh-tracing"
ENVIRONMENTS = ("dev", "staging", "prod")
Environment = Literal["dev", "staging", "prod"]

# Filled in for keys a stack leaves out. Everything here is a choice a platform team would make
# for that environment; anything security- or cost-relevant is stricter in prod, and none of it
# includes sampling, which every stack must state.
ENVIRONMENT_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "dev": {
        "istio": {"install": True, "istiod_replicas": 1},
        "jaeger": {"storage": "memory", "replicas": 1},
        "prometheus": {"install": True},
        "kiali": {"auth": "anonymous", "view_only": False, "replicas": 1},
    },
    "staging": {
        "istio": {"install": False, "istiod_replicas": 2},
        "jaeger": {"storage": "badger", "replicas": 1},
        "prometheus": {"install": True},
        "kiali": {"auth": "token", "view_only": False, "replicas": 1},
    },
    "prod": {
        "istio": {"install": False, "istiod_replicas": 2},
        "jaeger": {"storage": "elasticsearch", "replicas": 2},
        "prometheus": {"install": False},
        "kiali": {"auth": "token", "view_only": True, "replicas": 2},
    },
}

# Keys every environment fills in: with an unknown environment they are not reported missing,
# since the environment's own mistake is the one to fix.
DEFAULTED_KEYS = frozenset(
    (section, key)
    for defaults in ENVIRONMENT_DEFAULTS.values()
    for section, values in defaults.items()
    for key in values
)

SECRET_PATHS = (
    ("jaeger", "elasticsearch", "password"),
    ("jaeger", "opensearch", "password"),
    ("kiali", "openid", "client_secret"),
)

__all__ = [
    "CONFIG_NAMESPACE",
    "DEFAULTED_KEYS",
    "DEFAULT_PRODUCTION_STACK_PATTERNS",
    "ENVIRONMENTS",
    "ENVIRONMENT_DEFAULTS",
    "PRODUCTION_SAMPLING_CAP_PERCENT",
    "SECRET_PATHS",
    "Environment",
    "is_production",
    "named_like_production",
]
