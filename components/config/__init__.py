"""The configuration of a stack and of each component: typed, validated once at each edge.

Pure pydantic, no Pulumi: the models are checked, fuzzed and reused by the offline plan without
a Pulumi runtime.
"""

from .defaults import (
    CONFIG_NAMESPACE,
    ENVIRONMENT_DEFAULTS,
    ENVIRONMENTS,
    PRODUCTION_SAMPLING_CAP_PERCENT,
    SECRET_PATHS,
    Environment,
)
from .errors import ConfigError, ConfigProblem
from .fields import NAMESPACE_ALLOWED, SAMPLING_ALLOWED, Deferred, nested_model
from .parse import STACK_KEY_PREFIX, parse_component_args, parse_stack_config
from .sections import (
    BadgerConfig,
    ChartsConfig,
    GatewayConfig,
    ImagesConfig,
    IstioConfig,
    JaegerConfig,
    KialiConfig,
    OpenIdConfig,
    PrometheusConfig,
    SearchStoreConfig,
    TracingConfig,
)
from .stack import (
    IstioTracingComponentConfig,
    JaegerComponentConfig,
    KialiComponentConfig,
    PrometheusComponentConfig,
    StackConfig,
    sampling_percent_by_namespace,
)

load_stack_config = parse_stack_config
"""The name this function had before the config package; kept for existing callers."""

__all__ = [
    "CONFIG_NAMESPACE",
    "ENVIRONMENTS",
    "ENVIRONMENT_DEFAULTS",
    "NAMESPACE_ALLOWED",
    "PRODUCTION_SAMPLING_CAP_PERCENT",
    "SAMPLING_ALLOWED",
    "SECRET_PATHS",
    "STACK_KEY_PREFIX",
    "BadgerConfig",
    "ChartsConfig",
    "ConfigError",
    "ConfigProblem",
    "Deferred",
    "Environment",
    "GatewayConfig",
    "ImagesConfig",
    "IstioConfig",
    "IstioTracingComponentConfig",
    "JaegerComponentConfig",
    "JaegerConfig",
    "KialiComponentConfig",
    "KialiConfig",
    "OpenIdConfig",
    "PrometheusComponentConfig",
    "PrometheusConfig",
    "SearchStoreConfig",
    "StackConfig",
    "TracingConfig",
    "load_stack_config",
    "nested_model",
    "parse_component_args",
    "parse_stack_config",
    "sampling_percent_by_namespace",
]
