"""mesh-tracing: distributed tracing across an Istio mesh, as Pulumi components.

Importing the package loads only the configuration models; the components, which need the Pulumi
SDK and the Kubernetes provider, load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import ConfigError, StackConfig, load_stack_config
from .version import __version__

if TYPE_CHECKING:
    from .args import (
        IstioTracingArgs,
        JaegerArgs,
        KialiArgs,
        MeshObservabilityArgs,
        PrometheusArgs,
    )
    from .istio_tracing import IstioTracing
    from .jaeger import Jaeger
    from .kiali import Kiali
    from .mesh_observability import MeshObservability
    from .prometheus import Prometheus

_LAZY = {
    "MeshObservability": "mesh_observability",
    "Jaeger": "jaeger",
    "IstioTracing": "istio_tracing",
    "Kiali": "kiali",
    "Prometheus": "prometheus",
    "MeshObservabilityArgs": "args",
    "JaegerArgs": "args",
    "IstioTracingArgs": "args",
    "KialiArgs": "args",
    "PrometheusArgs": "args",
}

__all__ = [
    "ConfigError",
    "IstioTracing",
    "IstioTracingArgs",
    "Jaeger",
    "JaegerArgs",
    "Kiali",
    "KialiArgs",
    "MeshObservability",
    "MeshObservabilityArgs",
    "Prometheus",
    "PrometheusArgs",
    "StackConfig",
    "__version__",
    "load_stack_config",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
