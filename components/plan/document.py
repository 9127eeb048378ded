"""Offline plans: a stack's desired state as a stable, reviewable document, and diffs of two.

A plan lists every resource the program registers (type, name, parent, inputs, options) with
secrets masked, sorted so that the same config always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the plan is plain data: no Pulumi import needed to read or diff one
    from .evaluate import PlannedResource, StackEvaluation

PLAN_FORMAT_VERSION = 1


class _Absent:
    """Stands for a path one side of a diff does not have (distinct from any real value)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


def resource_key(resource_type: str, name: str) -> str:
    """How a plan names a resource: its type and logical name, as in a Pulumi URN."""
    return f"{resource_type}::{name}"


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def plan_document(evaluation: StackEvaluation, project: str) -> dict[str, Any]:
    """The plan of one evaluated stack, as plain, sorted data."""
    keys = {
        resource.urn: resource_key(resource.type, resource.name)
        for resource in evaluation.resources
    }

    def entry(resource: PlannedResource) -> dict[str, Any]:
        options: dict[str, Any] = {
            name: True
            for name, enabled in (
                ("protect", resource.protect),
                ("retain_on_delete", resource.retain_on_delete),
            )
            if enabled
        }
        if resource.ignore_changes:
            options["ignore_changes"] = sorted(resource.ignore_changes)
        document: dict[str, Any] = {
            "type": resource.type,
            "name": resource.name,
            "parent": keys.get(resource.parent or ""),
            "inputs": _sorted(resource.inputs),
        }
        if options:
            document["options"] = options
        depends_on = sorted(keys[urn] for urn in resource.dependencies if urn in keys)
        if depends_on:
            document["depends_on"] = depends_on
        return document

    resources = sorted(
        (entry(resource) for resource in evaluation.resources),
        key=lambda item: (item["type"], item["name"]),
    )
    document = {
        "plan_format": PLAN_FORMAT_VERSION,
        "project": project,
        "stack": evaluation.stack,
        "resources": resources,
        "outputs": _sorted(evaluation.outputs),
    }
    if evaluation.warnings:
        document["warnings"] = list(evaluation.warnings)
    return document


# --- diffs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueChange:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ResourceChange:
    key: str
    changes: tuple[ValueChange, ...]


@dataclass
class PlanDiff:
    old_label: str
    new_label: str
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    outputs: list[ValueChange] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.outputs)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            yield from _leaves(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def value_changes(old: Any, new: Any, path: str = "") -> list[ValueChange]:
    """Every leaf path whose value differs, `(absent)` where one side lacks it."""
    old_leaves, new_leaves = dict(_leaves(old, path)), dict(_leaves(new, path))
    return [
        ValueChange(leaf, old_leaves.get(leaf, ABSENT), new_leaves.get(leaf, ABSENT))
        for leaf in sorted(old_leaves.keys() | new_leaves.keys())
        if old_leaves.get(leaf, ABSENT) != new_leaves.get(leaf, ABSENT)
    ]


def _comparable(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: resource.get(key)
        for key in ("parent", "inputs", "options", "depends_on")
        if resource.get(key) is not None
    }


def diff_plans(old: Mapping[str, Any], new: Mapping[str, Any]) -> PlanDiff:
    """What changes going from plan `old` to plan `new`."""
    old_resources = {resource_key(r["type"], r["name"]): r for r in old["resources"]}
    new_resources = {resource_key(r["type"], r["name"]): r for r in new["resources"]}
    diff = PlanDiff(old_label=_label(old), new_label=_label(new))
    diff.added = [new_resources[key] for key in sorted(new_resources.keys() - old_resources.keys())]
    diff.removed = [
        old_resources[key] for key in sorted(old_resources.keys() - new_resources.keys())
    ]
    for key in sorted(old_resources.keys() & new_resources.keys()):
        changes = value_changes(_comparable(old_resources[key]), _comparable(new_resources[key]))
        if changes:
            diff.changed.append(ResourceChange(key, tuple(changes)))
    diff.outputs = value_changes(old.get("outputs", {}), new.get("outputs", {}))
    return diff


def _label(plan: Mapping[str, Any]) -> str:
    return f"{plan.get('project', '?')}/{plan.get('stack', '?')}"
