"""The components as a Pulumi component package, for stacks in any Pulumi language."""

from typing import Any

import pulumi

from .istio_tracing import IstioTracing
from .jaeger import Jaeger
from .kiali import Kiali
from .mesh_observability import MeshObservability
from .prometheus import Prometheus
from .version import __version__

PACKAGE_NAME = "mesh-tracing"
COMPONENTS: list[type[pulumi.ComponentResource]] = [
    MeshObservability,
    Jaeger,
    IstioTracing,
    Prometheus,
    Kiali,
]


def package_schema() -> dict[str, Any]:
    """The schema the provider host infers from the component classes, without the CLI."""
    from pulumi.provider.experimental.analyzer import Analyzer
    from pulumi.provider.experimental.schema import generate_schema

    analysis = Analyzer(PACKAGE_NAME).analyze(COMPONENTS)
    return generate_schema(
        PACKAGE_NAME,
        __version__,
        None,
        analysis["component_definitions"],
        analysis["type_definitions"],
        list(analysis["dependencies"]),
    ).to_json()


def serve() -> None:
    """Host the components as a provider: what the Pulumi engine runs for `pulumi package add`."""
    from pulumi.provider.experimental import component_provider_host

    component_provider_host(components=COMPONENTS, name=PACKAGE_NAME, version=__version__)
