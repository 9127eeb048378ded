"""The components as a Pulumi component package, for stacks in any Pulumi language."""

import sys
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


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _provider() -> Any:
    """The SDK's component provider, with its handling of integer inputs corrected.

    Over the wire every number is a float. The SDK (3.272, unchanged in 3.274's source) converts
    an integer input with `int()` and then stores the original float anyway, so `replicas: 2`
    from TypeScript or YAML reached our strict models as 2.0 and was refused; and an integer
    input wired from another resource's output (IstioTracing's `otlpPort` from Jaeger's
    `otlpGrpcPort`) made `int()` raise on the Output before any of our code ran. Here whole
    floats become ints, and outputs are converted once they resolve; everything else (2.5, a
    string) still reaches the models, which refuse it in our words.
    """
    from pulumi.provider.experimental.analyzer import PropertyType
    from pulumi.provider.experimental.component import ComponentProvider

    class MeshTracingProvider(ComponentProvider):
        def map_input_properties(
            self,
            inputs: Any,
            properties: dict[str, Any],
            mapping: dict[str, str],
            component_name: str,
            property_path: str,
        ) -> Any:
            integers = [n for n, p in properties.items() if p.type == PropertyType.INTEGER]
            wired: dict[str, Any] = {}
            if isinstance(inputs, dict):
                wired = {n: inputs[n] for n in integers if isinstance(inputs.get(n), pulumi.Output)}
                # A stand-in the SDK can pass through; the real value is put back below.
                inputs = {**inputs, **dict.fromkeys(wired, 0)}
            mapped = super().map_input_properties(
                inputs, properties, mapping, component_name, property_path
            )
            for name in integers:
                python_name = mapping[name]
                if name in wired:
                    mapped[python_name] = wired[name].apply(_whole)
                elif python_name in mapped:
                    mapped[python_name] = _whole(mapped[python_name])
            return mapped

    return MeshTracingProvider(COMPONENTS, PACKAGE_NAME, None, __version__)


def serve() -> None:
    """Host the components as a provider: what the Pulumi engine runs for `pulumi package add`."""
    from pulumi.provider import main

    # As the SDK's component_provider_host does: the engine's arguments follow the program name.
    main(_provider(), sys.argv[1:])
