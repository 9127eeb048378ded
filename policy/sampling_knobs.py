"""Every way a Pulumi resource can set Istio's trace sampling, and whether the pack can prove it
stays at or below the production cap.

The pack fails closed: a resource that can raise sampling is judged, and whatever this module
cannot prove to be within the cap is a finding that says what could not be proved and how to make
it provable. Each rule names the Istio source it was read from (istio/istio at 86c9f01, the 1.31
line, unless a path says otherwise).

Where Istio takes a proxy's sampling from (pilot/pkg/networking/core/tracing.go,
`configureTracingFromTelemetry`): "provider.sampler > telemetry.RandomSamplingPercentage >
defaultConfig.tracing.sampling > PILOT_TRACE_SAMPLING". So the knobs are:

- a Telemetry's `spec.tracing[].randomSamplingPercentage`, any API version (telemetry.istio.io
  v1alpha1 and v1 share the field: istio/api telemetry/v1alpha1/telemetry.proto); a rule without
  it falls back to the two below, which the pack may not see;
- a provider sampler: `extensionProviders[].opentelemetry.dynatraceSampler` (istio/api
  mesh/v1alpha1/config.proto, oneof `sampling`) makes Istio sample 100 % and leave the decision to
  the sampler (tracing.go: "the sampling percentage is set to 100%");
- ProxyConfig `tracing.sampling` (tracing.go `proxyConfigSamplingValue`), from the mesh config's
  `defaultConfig` (the `istio` ConfigMap's `mesh` key, istiod's `meshConfig` chart value, an
  IstioOperator's `spec.meshConfig`, the SHARED_MESH_CONFIG map: pilot/pkg/bootstrap/mesh.go;
  istiod reads a map's `data`, never `binaryData`: pkg/config/mesh/kubemesh/watcher.go),
  from the `proxy.istio.io/config` pod annotation (pilot/pkg/model/proxy_config.go,
  pkg/kube/inject/inject.go) and from the sidecar's PROXY_CONFIG environment variable
  (pilot/cmd/pilot-agent/options/options.go), which the agent reports to istiod and which the
  `proxy.istio.io/overrides` annotation can set (pkg/kube/inject/webhook.go); the ProxyConfig
  resource has no tracing field (istio/api networking/v1beta1/proxy_config.proto), but its
  `environmentVariables` reach the proxy;
- istiod's PILOT_TRACE_SAMPLING environment variable (pilot/pkg/features/telemetry.go), which the
  istiod chart sets from `traceSampling` (manifests/charts/istio-control/istio-discovery/templates/
  deployment.yaml) and from its `env` map, the operator from `values.pilot.traceSampling`,
  `values.pilot.env` and `components.pilot.k8s.env`;
- profiles: the istiod chart merges `files/profile-<profile>.yaml`, `profile-platform-<platform>`
  and `profile-compatibility-version-<v>` under the user's values (templates/zzz_profile.yaml, keys
  `profile`/`global.profile`, `platform`/`global.platform`, `compatibilityVersion`); the demo
  profile sets `traceSampling: 100` (files/profile-demo.yaml, manifests/helm-profiles/demo.yaml),
  the operator's demo profile selects it (manifests/profiles/demo.yaml);
- an EnvoyFilter, which can patch Envoy's own `tracing` (`random_sampling`, `overall_sampling`,
  defaulting to 100 % when a patch replaces the block), add an OpenTelemetry `sampler`, or add the
  headers that force or carry a sampling decision (`x-client-trace-id`, `x-envoy-force-trace`,
  `traceparent`, `b3`, `x-b3-sampled`, ...).

The checks work on plain data: the resource's inputs as the engine sends them, with unknown
values as the engine's sentinel strings and assets as `pulumi` asset objects.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import yaml

# --- unknown values -----------------------------------------------------------------------
# The engine's sentinels for values not known during preview (pulumi_policy/proxy.py).

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_BOOLEAN = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
UNKNOWN_ASSET = "030794c1-ac77-496b-92df-f27374a8bd58"
UNKNOWN_ARCHIVE = "e48ece36-62e2-4504-bad9-02848725956a"
_UNKNOWN_SCALARS = frozenset({UNKNOWN_STRING, UNKNOWN_NUMBER, UNKNOWN_BOOLEAN})
_UNKNOWN_CONTAINERS = frozenset({UNKNOWN_ARRAY, UNKNOWN_OBJECT, UNKNOWN_ASSET, UNKNOWN_ARCHIVE})

# The engine's encoding of an asset, when a resource's inputs are given undeserialized.
_ASSET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in (_UNKNOWN_SCALARS | _UNKNOWN_CONTAINERS)


# --- what the rules know ------------------------------------------------------------------

# Profiles read in the sources above that set no sampling: every istiod/base/gateway chart
# profile file but demo (manifests/helm-profiles/*.yaml), every operator profile but demo
# (manifests/profiles/*.yaml), and the empty selection. Any other name is not provable.
SAFE_CHART_PROFILES = frozenset(
    {"", "default", "ambient", "preview", "remote", "stable", "empty", "minimal"}
)
SAFE_OPERATOR_PROFILES = frozenset(
    {"", "default", "ambient", "empty", "minimal", "openshift", "openshift-ambient", "preview"}
    | {"remote", "stable"}
)
SAFE_PLATFORMS = frozenset({"", "gke", "k3d", "k3s", "microk8s", "minikube", "openshift"})
SAFE_COMPATIBILITY_VERSIONS = frozenset({"", "1.25", "1.26", "1.27", "1.28", "1.29", "1.30"})

# Istio's charts (manifests/charts): their `profile`, `platform` and `compatibilityVersion` values
# select profile files. A chart named by a repository (a plain name, or an OCI reference) is
# the chart of that name; a chart given by path or URL may be any chart under any file name, so
# its values are judged as an Istio chart's too. Every chart's values are scanned for the
# sampling knobs themselves (any chart's pod annotations can carry proxy.istio.io/config).
ISTIO_CHARTS = frozenset(
    {"istiod", "istio-discovery", "istiod-remote", "base", "gateway", "cni", "ztunnel"}
)

# Kinds that cannot carry a sampling setting, so a value unknown at preview in them is no finding.
_INERT_KINDS = frozenset(
    {
        "Namespace",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Secret",
    }
)

# Headers that force a trace or carry an upstream decision (README "Where sampling is decided").
TRACE_DECISION_HEADERS = (
    "x-client-trace-id",
    "x-envoy-force-trace",
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-b3-sampled",
    "x-b3-flags",
    "x-b3-traceid",
    "b3",
)
_HEADER_PATTERN = re.compile(
    r"(?<![a-z0-9-])(" + "|".join(re.escape(h) for h in TRACE_DECISION_HEADERS) + r")(?![a-z0-9-])"
)
# Text that may hold a sampling setting: worth parsing, and refused when it cannot be parsed.
_TEXT_KEYWORDS = ("sampl", "proxy_config", "proxy.istio.io/config", "proxy.istio.io/overrides")
# Istio's own injection templates set PROXY_CONFIG to the ProxyConfig Istio computed from the
# mesh config, ProxyConfig resources and the pod's annotation, each judged where it is set
# (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml and the gateway,
# grpc-agent, kube-gateway and waypoint templates beside it): that form is provable.
_UPSTREAM_PROXY_CONFIG = re.compile(
    r"-\s*name:\s*PROXY_CONFIG\s*\n\s*value:\s*\|\s*\n\s*\{\{\s*protoToJSON\s+\.ProxyConfig\s*\}\}"
)
_MAX_NODES = 200_000
_MAX_TEXT_DEPTH = 4  # text in text in text...: deeper than any Istio knob nests


def _norm(key: Any) -> str:
    """`randomSamplingPercentage`, `random_sampling_percentage` and `RANDOM-SAMPLING-PERCENTAGE`
    are one key: Istio reads YAML through protojson, which takes both JSON and proto names."""
    return re.sub(r"[_\-\s]", "", str(key)).lower()


# --- findings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A problem with one field: `unknown` when only a value unknown at preview is in doubt."""

    path: str
    message: str
    unknown: bool = False


def render_path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.startswith(": "):
            out += part
        elif re.fullmatch(r"[A-Za-z0-9_$@-]+", str(part)):
            out += ("." if out and not out.endswith(" ") else "") + str(part)
        else:
            out += f'["{part}"]'
    return out


# --- parsing embedded text as Istio would, and then some ----------------------------------


class _Pairs(list):
    """A YAML mapping with every key it was given, duplicates included (PyYAML keeps the last;
    Go's decoders disagree, so the pack judges them all)."""

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        return iter(self)

    def get(self, key: str, default: Any = None) -> Any:
        found = [value for k, value in self if k == key]
        return found[-1] if found else default


class _TooLarge(Exception):
    pass


def _from_node(node: yaml.Node, budget: list[int], active: set[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if id(node) in active:  # a recursive alias: nothing new below it
        return None
    if isinstance(node, yaml.ScalarNode):
        # Any tag, custom ones included, is read as the plain value it decorates.
        if node.tag.endswith(":null") or (node.style is None and node.value in ("", "~", "null")):
            return None
        return node.value
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_from_node(item, budget, active) for item in node.value]
        pairs = _Pairs()
        for key, value in node.value:
            key_value = _from_node(key, budget, active)
            pairs.append(
                ("" if key_value is None else str(key_value), _from_node(value, budget, active))
            )
        return pairs
    finally:
        active.discard(id(node))


def parse_documents(text: str) -> Optional[list[Any]]:
    """Every document in `text` (JSON or YAML, any number of documents, any tags, duplicate keys
    kept), or None when it cannot be parsed."""
    try:
        # Duplicate keys kept here too: Go and Python decoders disagree on which one wins.
        return [json.loads(text, object_pairs_hook=_Pairs)]
    except ValueError:
        pass
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        budget = [_MAX_NODES]
        return [_from_node(node, budget, set()) for node in nodes if node is not None]
    except (yaml.YAMLError, _TooLarge, RecursionError):
        return None


# --- numbers ------------------------------------------------------------------------------


def number(value: Any) -> Optional[float]:
    """A number as Istio would read it from YAML or an env string; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            return float(text)
        except ValueError:
            try:
                return float(int(text, 0))
            except ValueError:
                return None
    return None


def within(value: Any, cap: float) -> bool:
    """Provably at or below the cap: a finite number (NaN and infinities prove nothing)."""
    found = number(value)
    return found is not None and math.isfinite(found) and found <= cap


# --- the scan ------------------------------------------------------------------------------


def _asset(value: Any) -> Optional[tuple[str, Optional[str]]]:
    """(what the asset is, its text when the pack can read it) for an asset, else None."""
    kind = type(value).__name__
    if kind == "StringAsset":
        return "a StringAsset", value.text
    if kind in ("FileAsset", "RemoteAsset"):
        where = getattr(value, "path", None) or getattr(value, "uri", None)
        return f"{kind} {where!r}", None
    if isinstance(value, Mapping) and value.get(_ASSET_SIG_KEY) == _ASSET_SIG:
        if isinstance(value.get("text"), str):
            return "a StringAsset", value["text"]
        return f"asset {value.get('path') or value.get('uri')!r}", None
    return None


@dataclass
class _Context:
    cap: float
    envoy_filter: bool
    inert: bool
    findings: list[Finding]
    depth: int = 0

    def above(self, path: str, value: Any, knob: str) -> None:
        if is_unknown(value):
            self.unknown(path)
        elif not within(value, self.cap):
            shown: Any = value if number(value) is not None else repr(value)
            if isinstance(value, float) and value.is_integer():
                shown = int(value)  # a Struct carries 100 as 100.0
            self.findings.append(
                Finding(
                    path,
                    f"{path} = {shown} is above the production cap of {self.cap:g} percent"
                    + ("" if number(value) is not None else " (or is not a number)")
                    + f"; {knob}.",
                )
            )

    def unprovable(self, path: str, what: str, fix: str) -> None:
        self.findings.append(
            Finding(
                path,
                f"{path}: {what}, so the pack cannot prove sampling at or below the production "
                f"cap of {self.cap:g} percent; {fix}.",
            )
        )

    def unknown(self, path: str) -> None:
        self.findings.append(
            Finding(path, f"{path} is unknown, and could set Istio's trace sampling", True)
        )


def _scalar(value: Any) -> bool:
    """ProxyConfig's `tracing.sampling` is a number: a mapping there (Spring Boot's
    `management.tracing.sampling.probability`) is some application's own setting."""
    return not isinstance(value, (Mapping, _Pairs, list, tuple))


def _every(mapping: Any, key: str) -> list[Any]:
    """Every value given for `key`, duplicates included."""
    if isinstance(mapping, _Pairs):
        return [value for k, value in mapping if k == key]
    if isinstance(mapping, Mapping) and key in mapping:
        return [mapping[key]]
    return []


def _worst(values: list[Any]) -> Any:
    """Of several values for one field, the one least likely to be within any cap."""
    for value in values:
        found = number(value)
        if found is None or not math.isfinite(found):
            return value
    return max(values, key=lambda value: number(value) or 0.0)


def _percent(value: Any) -> Any:
    """Envoy's `type.v3.Percent` is `{value: N}` (a missing value is 0); a bare number is taken
    as it is."""
    if isinstance(value, (Mapping, _Pairs)):
        given = [v for v in _every(value, "value") if v is not None]
        return _worst(given) if given else 0
    return value


def _text(ctx: _Context, parts: list[Any], text: str, mode: str) -> None:
    """Judge text that embeds YAML or JSON (a mesh config, an annotation, an env value).

    `mode` says what an unreadable text is: "knob", text Istio reads as config (refused);
    "config", text where config lives (ConfigMap data, annotations, text inside text: refused
    when it mentions a sampling setting); "loose", any other string (judged when it parses, else
    left alone: a CEL expression or a description is no config Istio reads)."""
    if is_unknown(text):
        ctx.unknown(render_path(parts))
        return
    mentions = any(word in _UPSTREAM_PROXY_CONFIG.sub("", text).lower() for word in _TEXT_KEYWORDS)
    if mode != "knob" and not mentions:
        return
    documents = parse_documents(text) if ctx.depth < _MAX_TEXT_DEPTH else None
    if documents is None:
        if mode == "loose":
            return
        ctx.unprovable(
            render_path(parts),
            "this text mentions a sampling setting but is not YAML or JSON the pack can read"
            if mode == "config"
            else "this text, which Istio reads as config, is not YAML or JSON the pack can read",
            "write it as plain YAML or JSON (no templates)",
        )
        return
    for index, document in enumerate(documents):
        # A document that is one scalar is the text itself: nothing in it to judge.
        if isinstance(document, (Mapping, _Pairs, list)):
            label = ": " if len(documents) == 1 else f": (document {index + 1}) "
            ctx.depth += 1
            try:
                _walk(ctx, [*parts, label], document, parent=None)
            finally:
                ctx.depth -= 1


def _env_entry(ctx: _Context, parts: list[Any], entry: Any) -> None:
    """A Kubernetes env entry: `{name: PILOT_TRACE_SAMPLING, value: ...}` or PROXY_CONFIG."""
    name = _norm(entry.get("name"))
    if name not in ("pilottracesampling", "proxyconfig", "istiometaproxyconfig"):
        return
    if entry.get("valueFrom") is not None or entry.get("value_from") is not None:
        ctx.unprovable(
            render_path([*parts, "valueFrom"]),
            f"{entry.get('name')} comes from another object the pack cannot read",
            "set its value inline",
        )
    for value in _every(entry, "value"):
        if value is None:
            continue
        if name == "pilottracesampling":
            ctx.above(
                render_path([*parts, "value"]),
                value,
                "istiod's PILOT_TRACE_SAMPLING is the sampling of every proxy without a "
                "Telemetry percentage",
            )
        elif isinstance(value, str):
            _text(ctx, [*parts, "value"], value, mode="knob")


def _walk(ctx: _Context, parts: list[Any], value: Any, parent: Optional[str]) -> None:
    if is_unknown(value):
        if value in _UNKNOWN_CONTAINERS and not ctx.inert:
            ctx.unknown(render_path(parts))
        return
    if isinstance(value, (Mapping, _Pairs)):
        if "name" in [k for k, _ in value.items()]:
            _env_entry(ctx, parts, value)
        for key, item in list(value.items()):
            _key(ctx, [*parts, key], str(key), item, parent)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(ctx, [*parts, index], item, parent)
        return
    if isinstance(value, str):
        if ctx.envoy_filter:
            _headers(ctx, parts, value)
        container = _norm(parts[-2]) if len(parts) >= 2 and isinstance(parts[-2], str) else ""
        config = (
            ctx.depth > 0
            or container in ("data", "stringdata", "binarydata")
            or "annotations" in container
        )
        _text(ctx, parts, value, mode="config" if config else "loose")


def _key(ctx: _Context, parts: list[Any], key: str, value: Any, parent: Optional[str]) -> None:
    key_n = _norm(key)
    path = render_path(parts)
    if key_n == "randomsamplingpercentage":
        ctx.above(path, value, "a Telemetry's percentage decides wherever it applies")
    elif key_n == "tracesampling":
        ctx.above(path, value, "istiod sets it as PILOT_TRACE_SAMPLING")
    elif key_n == "pilottracesampling" and not isinstance(value, (Mapping, _Pairs, list)):
        ctx.above(
            path,
            value,
            "istiod's PILOT_TRACE_SAMPLING is the sampling of every proxy "
            "without a Telemetry percentage",
        )
    elif key_n == "sampling" and parent == "tracing" and _scalar(value):
        ctx.above(
            path,
            value,
            "ProxyConfig tracing.sampling is the proxy's sampling wherever "
            "no Telemetry percentage applies",
        )
    elif key_n in ("randomsampling", "overallsampling"):
        ctx.above(path, _percent(value), "Envoy samples this share of requests")
    elif key_n == "dynatracesampler" and value is not None:
        ctx.unprovable(
            path,
            "a provider with a sampler makes Istio sample 100 % and leaves the decision to the "
            "sampler's own rate",
            "remove the sampler and set the Telemetry's randomSamplingPercentage",
        )
    elif key_n == "sampler" and ctx.envoy_filter and value is not None:
        ctx.unprovable(
            path,
            "an Envoy tracer sampler decides sampling by its own rules",
            "remove it and let the Telemetry's randomSamplingPercentage decide",
        )
    elif key_n == "tracing" and ctx.envoy_filter and isinstance(value, (Mapping, _Pairs)):
        if not any(_norm(k) == "randomsampling" for k, _ in value.items()):
            ctx.unprovable(
                path,
                "an EnvoyFilter that sets Envoy's tracing without random_sampling may leave "
                "Envoy's default of 100 %",
                f"set random_sampling explicitly, at most {ctx.cap:g}",
            )
    elif key_n == "preserveexternalrequestid" and ctx.envoy_filter and value not in (False, None):
        ctx.unprovable(
            path,
            "keeping an outside client's x-request-id lets the client carry a sampling decision",
            "remove it",
        )
    if isinstance(value, str) and key_n in (
        "proxy.istio.io/config",
        "proxy.istio.io/overrides",
        "proxyconfig",
        "istiometaproxyconfig",
        "mesh",
        "meshconfig",
    ):
        _text(ctx, parts, value, mode="knob")
        return
    if is_unknown(value) and key_n in (
        "randomsamplingpercentage",
        "tracesampling",
        "pilottracesampling",
        "randomsampling",
        "overallsampling",
        "proxy.istio.io/config",
        "proxy.istio.io/overrides",
        "proxyconfig",
        "istiometaproxyconfig",
        "mesh",
        "meshconfig",
        "sampling",
    ):
        if not (key_n == "sampling" and parent != "tracing"):
            ctx.unknown(path)
        return
    if key_n in ("randomsamplingpercentage", "tracesampling", "randomsampling", "overallsampling"):
        return
    if key_n == "sampling" and parent == "tracing" and _scalar(value):
        return
    _walk(ctx, parts, value, parent=key_n)


_SETTERS = ("add", "append", "set", "replace", "overwrite")
_CODE_SETTERS = ("add(", "replace(", "set(", "append(", "addheader", "setheader", "add_header")


def _headers(ctx: _Context, parts: list[Any], text: str) -> None:
    """An EnvoyFilter that adds or sets a trace-decision header: as the header a mutation adds
    (`append`, `request_headers_to_add`, ...), or in code (Lua) on a line that adds or sets one.
    Removing them, reading them (an access log's `%REQ(X-REQUEST-ID)%`, a custom tag) is fine."""
    if is_unknown(text):
        return
    ancestors = [_norm(part) for part in parts if isinstance(part, str)]
    if any("remove" in ancestor for ancestor in ancestors):
        return
    lowered = text.lower()
    found = None
    if lowered.strip() in TRACE_DECISION_HEADERS:
        if any(setter in ancestor for ancestor in ancestors for setter in _SETTERS):
            found = lowered.strip()
    else:
        for line in lowered.splitlines():
            match = _HEADER_PATTERN.search(line)
            if match and any(setter in line.replace(" ", "") for setter in _CODE_SETTERS):
                found = match.group(1)
                break
    if found:
        ctx.unprovable(
            render_path(parts),
            f"the filter adds or sets the {found} header, which forces or carries a sampling "
            "decision",
            "only remove trace headers in an EnvoyFilter",
        )


# --- profiles and other whole-resource rules ------------------------------------------------


def _istio_name(name: Any) -> bool:
    text = chart_name(name)
    return text in ISTIO_CHARTS or text.startswith("istio")


def _profile_rules(
    ctx: _Context,
    parts: list[Any],
    values: Any,
    operator: bool = False,
    subcharts_only: bool = False,
) -> None:
    """`profile`, `platform` and `compatibilityVersion` of an Istio chart's values, at the top, in
    `global`, and in a subchart's values (templates/zzz_profile.yaml). For a chart known not to
    be Istio's, only the values of a subchart named like one of Istio's."""
    if not isinstance(values, (Mapping, _Pairs)):
        return
    scopes: list[tuple[list[Any], Any]] = [] if subcharts_only else [(parts, values)]
    for key, item in values.items():
        if isinstance(item, (Mapping, _Pairs)) and (not subcharts_only or _istio_name(key)):
            scopes.append(([*parts, key], item))
    for scope_parts, scope in list(scopes):
        for key, item in scope.items():
            if _norm(key) == "global" and isinstance(item, (Mapping, _Pairs)):
                scopes.append(([*scope_parts, key], item))
    seen: set[str] = set()
    for scope_parts, scope in scopes:
        for key, item in scope.items():
            key_n = _norm(key)
            allowed = {
                "profile": SAFE_OPERATOR_PROFILES if operator else SAFE_CHART_PROFILES,
                "platform": SAFE_PLATFORMS,
                "compatibilityversion": SAFE_COMPATIBILITY_VERSIONS,
            }.get(key_n)
            path = render_path([*scope_parts, key])
            if allowed is None or path in seen:
                continue
            seen.add(path)
            if is_unknown(item):
                ctx.unknown(path)
            elif item is None or str(item) in allowed:
                continue
            else:
                ctx.unprovable(
                    path,
                    f"{key} {item!r} is not one the pack knows to leave sampling alone (the demo "
                    "profile sets traceSampling 100)",
                    f"use one of {', '.join(sorted(a for a in allowed if a))}, or none",
                )


def chart_name(chart: Any) -> str:
    """The chart a Helm resource installs, by name, repository path, OCI reference, URL or local
    path: `istiod`, `istio/istiod`, `oci://host/charts/istiod:1.31.1`,
    `https://host/istiod-1.31.1.tgz?raw=1` and `./charts/istiod/` all name istiod."""
    text = str(chart or "").split("?", 1)[0].split("#", 1)[0].rstrip("/")
    last = text.rsplit("/", 1)[-1]
    if ":" in last and not last.startswith(":"):
        last = last.split(":", 1)[0]
    for suffix in (".tgz", ".tar.gz"):
        if last.endswith(suffix):
            stem = last[: -len(suffix)]
            name, _, version = stem.rpartition("-")
            return name if name and version[:1].isdigit() else stem
    return last


def named_by_repository(chart: Any) -> bool:
    """A plain chart name or an OCI reference: Helm resolves it from a repository's index or a
    registry, where the name is the chart's own. Anything with a path or a URL is not."""
    text = str(chart or "")
    return text.startswith("oci://") or ("/" not in text and not text.endswith((".tgz", ".gz")))


def may_be_istio_chart(chart: Any) -> bool:
    if is_unknown(chart) or not isinstance(chart, str) or not named_by_repository(chart):
        return True
    return _istio_name(chart)


def _helm_rules(ctx: _Context, props: Mapping[str, Any]) -> None:
    istio_chart = may_be_istio_chart(props.get("chart"))
    for key in ("postrender", "postRenderer"):
        if props.get(key) not in (None, "", {}):
            ctx.unprovable(
                key,
                "a post-renderer rewrites the rendered manifests where the pack cannot see them",
                "drop it, or register the objects as resources of their own",
            )
    _profile_rules(ctx, ["values"], props.get("values"), subcharts_only=not istio_chart)
    files = props.get("valueYamlFiles")
    if is_unknown(files):
        ctx.unknown("valueYamlFiles")
        return
    for index, item in enumerate(files or []):
        path = f"valueYamlFiles[{index}]"
        if is_unknown(item):
            ctx.unknown(path)
            continue
        found = _asset(item)
        text = found[1] if found else None
        if text is None:
            ctx.unprovable(
                path,
                f"{found[0] if found else 'this values file'} is read by Helm where the pack "
                "cannot read it, and a values file can set sampling",
                "move its settings into `values` (or give it as a StringAsset)",
            )
            continue
        documents = parse_documents(text)
        if documents is None:
            ctx.unprovable(
                path, "this values file is not YAML the pack can read", "write it as plain YAML"
            )
            continue
        for document in documents:
            _walk(ctx, ["valueYamlFiles", index, ": "], document, parent=None)
            _profile_rules(
                ctx, ["valueYamlFiles", index, ": "], document, subcharts_only=not istio_chart
            )


def _operator_rules(ctx: _Context, props: Mapping[str, Any]) -> None:
    spec = props.get("spec")
    if not isinstance(spec, Mapping):
        return
    _profile_rules(
        ctx, ["spec"], {k: v for k, v in spec.items() if _norm(k) != "values"}, operator=True
    )
    _profile_rules(ctx, ["spec", "values"], spec.get("values"))


def _telemetry_rules(ctx: _Context, props: Mapping[str, Any]) -> None:
    """Every tracing rule sets its percentage: without one Istio falls back to ProxyConfig and
    PILOT_TRACE_SAMPLING, which may be set outside this stack."""
    spec = props.get("spec")
    rules = spec.get("tracing") if isinstance(spec, Mapping) else None
    if not isinstance(rules, (list, tuple)):
        return
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or is_unknown(rule):
            continue
        path = f"spec.tracing[{index}].randomSamplingPercentage"
        if rule.get("randomSamplingPercentage") is None:
            ctx.findings.append(
                Finding(
                    path,
                    f"{path} is missing; Istio would fall back to settings this pack cannot see. "
                    f"Set it explicitly, at most {ctx.cap:g}.",
                )
            )


def kinds(resource_type: str, props: Mapping[str, Any]) -> set[str]:
    """The Kubernetes kinds a resource may be: its type token's (a Patch patches that kind) and
    the `kind` in its inputs, which is what the provider creates."""
    found = set()
    token_kind = resource_type.rsplit(":", 1)[-1]
    if resource_type.startswith("kubernetes:"):
        found.add(token_kind[: -len("Patch")] if token_kind.endswith("Patch") else token_kind)
    kind = props.get("kind") if isinstance(props, Mapping) else None
    if isinstance(kind, str) and not is_unknown(kind):
        found.add(kind)
    return found


def _decoded_secret(props: Mapping[str, Any]) -> dict[str, Any]:
    data = props.get("data")
    if not isinstance(data, Mapping):
        return dict(props)
    decoded = {}
    for key, value in data.items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
            decoded[key] = value
    return {**props, "data": decoded}


def sampling_findings(resource_type: str, props: Mapping[str, Any], cap: float) -> list[Finding]:
    """Every sampling setting a production resource makes that the pack cannot prove to be at or
    below `cap`, and every one it cannot judge yet."""
    if not isinstance(props, Mapping):
        return []
    resource_kinds = kinds(resource_type, props)
    ctx = _Context(
        cap=cap,
        envoy_filter="EnvoyFilter" in resource_kinds,
        inert=(bool(resource_kinds) and resource_kinds <= _INERT_KINDS)
        or not resource_type.startswith("kubernetes:"),
        findings=[],
    )
    if "Secret" in resource_kinds:
        props = _decoded_secret(props)
    if "Telemetry" in resource_kinds:
        _telemetry_rules(ctx, props)
    if "IstioOperator" in resource_kinds:
        _operator_rules(ctx, props)
    if resource_type.startswith("kubernetes:helm.sh/") or (
        "chart" in props and ("values" in props or "valueYamlFiles" in props)
    ):
        _helm_rules(ctx, props)
    _walk(ctx, [], props, parent=None)
    unique: dict[tuple[str, str], Finding] = {}
    for finding in ctx.findings:
        unique.setdefault((finding.path, finding.message), finding)
    return list(unique.values())


def plain(value: Any) -> Any:
    """Parsed YAML as ordinary dicts and lists (the last of duplicate keys wins, as in PyYAML)."""
    if isinstance(value, _Pairs):
        return {key: plain(item) for key, item in value}
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
