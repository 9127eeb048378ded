"""A team's stack on a mesh the platform team runs: Istio and its mesh-wide sampling belong to
the platform; this stack adds a Jaeger of its own and Telemetry for the team's namespaces only."""

import pulumi

from mesh_tracing import IstioTracing, Jaeger

config = pulumi.Config()
environment = config.require("environment")
namespaces = config.require_object("namespaces")
# Behind a firewall: where the pinned charts come from (see the mesh-tracing README).
mirrors = {"charts": config.get_object("charts")} if config.get_object("charts") else {}

jaeger = Jaeger(
    "shop-jaeger",
    {
        "environment": environment,
        "jaeger": {"namespace": "shop-tracing", "storage": "memory", "memory_max_traces": 20_000},
        **mirrors,
    },
)

tracing = IstioTracing(
    "shop-telemetry",
    {
        "environment": environment,
        "tracing": {"namespaces": namespaces, "provider_name": "shop-jaeger"},
        "istio": {"install": False, "own_mesh_default": False},
        "otlp_service_host": jaeger.otlp_grpc_host,
        "otlp_port": jaeger.otlp_grpc_port,
    },
)

pulumi.export("jaeger_ui_url", jaeger.ui_url)
# Only for traces that start in these namespaces: traffic from a gateway keeps its decision.
pulumi.export("trace_start_sampling_percent", tracing.trace_start_sampling_percent)
# The platform team merges this into the mesh config, so the provider the Telemetry names exists.
pulumi.export("mesh_config_to_merge", tracing.mesh_config)
