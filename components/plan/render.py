"""Plans and plan diffs as text: YAML or JSON for machines, a terminal view, Markdown for PRs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import yaml

from .document import ABSENT, PlanDiff, ResourceChange, resource_key


def _plain(value: Any) -> Any:
    return "(absent)" if value is ABSENT else value


def plan_as_yaml(plan: dict[str, Any]) -> str:
    return yaml.safe_dump(
        plan, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True
    )


def plan_as_json(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _value(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def plan_as_markdown(plan: dict[str, Any]) -> str:
    counts = Counter(resource["type"] for resource in plan["resources"])
    lines = [
        f"### Plan of `{plan['project']}/{plan['stack']}`",
        "",
        f"{len(plan['resources'])} resources, evaluated offline with the Pulumi SDK's mock "
        "runtime.",
        "",
        "| type | count |",
        "| --- | --- |",
        *[f"| `{kind}` | {count} |" for kind, count in sorted(counts.items())],
        "",
        *[f"> **Warning:** {warning}\n" for warning in plan.get("warnings", [])],
        "<details><summary>Full plan (YAML)</summary>",
        "",
        "```yaml",
        plan_as_yaml(plan).rstrip(),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(lines) + "\n"


def _summary(diff: PlanDiff) -> str:
    return (
        f"{len(diff.added)} to add, {len(diff.changed)} to change, "
        f"{len(diff.removed)} to remove, {len(diff.outputs)} outputs changed"
    )


def diff_as_text(diff: PlanDiff) -> str:
    lines = [f"Plan diff {diff.old_label} -> {diff.new_label}: {_summary(diff)}"]
    if not diff.has_changes:
        return lines[0] + "\nNo changes.\n"
    for resource in diff.added:
        lines.append(f"+ {resource_key(resource['type'], resource['name'])}")
    for resource in diff.removed:
        lines.append(f"- {resource_key(resource['type'], resource['name'])}")
    for change in diff.changed:
        lines.append(f"~ {change.key}")
        lines.extend(
            f"    {item.path}: {_value(item.old)} => {_value(item.new)}" for item in change.changes
        )
    if diff.outputs:
        lines.append("~ outputs")
        lines.extend(
            f"    {item.path}: {_value(item.old)} => {_value(item.new)}" for item in diff.outputs
        )
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return "`" + _value(value).replace("|", "\\|").replace("`", "'") + "`"


def _changes_table(changes: tuple[Any, ...] | list[Any]) -> list[str]:
    return [
        "| path | old | new |",
        "| --- | --- | --- |",
        *[f"| `{item.path}` | {_cell(item.old)} | {_cell(item.new)} |" for item in changes],
    ]


def diff_as_markdown(diff: PlanDiff) -> str:
    lines = [f"### Plan diff `{diff.old_label}` → `{diff.new_label}`", "", f"**{_summary(diff)}**"]
    if not diff.has_changes:
        return "\n".join([*lines, "", "No changes."]) + "\n"
    if diff.added:
        lines += ["", "#### Added", ""]
        lines += [f"- `{resource_key(r['type'], r['name'])}`" for r in diff.added]
    if diff.removed:
        lines += ["", "#### Removed", ""]
        lines += [f"- `{resource_key(r['type'], r['name'])}`" for r in diff.removed]
    change: ResourceChange
    for change in diff.changed:
        lines += ["", f"#### Changed `{change.key}`", "", *_changes_table(change.changes)]
    if diff.outputs:
        lines += ["", "#### Outputs", "", *_changes_table(diff.outputs)]
    return "\n".join(lines) + "\n"


def diff_as_json(diff: PlanDiff) -> str:
    def changes(items: Any) -> list[dict[str, Any]]:
        return [
            {"path": item.path, "old": _plain(item.old), "new": _plain(item.new)} for item in items
        ]

    document = {
        "old": diff.old_label,
        "new": diff.new_label,
        "added": [resource_key(r["type"], r["name"]) for r in diff.added],
        "removed": [resource_key(r["type"], r["name"]) for r in diff.removed],
        "changed": [{"resource": c.key, "changes": changes(c.changes)} for c in diff.changed],
        "outputs": changes(diff.outputs),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# The first entry of each is the default format.
PLAN_RENDERERS = {"yaml": plan_as_yaml, "json": plan_as_json, "markdown": plan_as_markdown}
DIFF_RENDERERS = {"text": diff_as_text, "json": diff_as_json, "markdown": diff_as_markdown}
