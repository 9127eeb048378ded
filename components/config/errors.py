"""Problems with a configuration, and the one error that lists them all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel, SecretStr

NOT_SET = "(not set)"


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake: the key as the user wrote it, the value given, why it is wrong, and what is
    allowed there."""

    key: str
    value: str
    reason: str
    allowed: str

    def __str__(self) -> str:
        return f"{self.key} = {self.value}: {self.reason} (allowed: {self.allowed})"


class ConfigError(ValueError):
    """Every problem of one configuration, each naming the key, the value and what is allowed."""

    def __init__(self, owner: str, problems: list[ConfigProblem], *, kind: str = "stack"):
        self.owner = owner
        self.kind = kind
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{kind} '{owner}' has invalid mesh-tracing configuration:\n{lines}")

    @property
    def stack(self) -> Optional[str]:
        return self.owner if self.kind == "stack" else None


def show(value: Any) -> str:
    """A value as the user wrote it: `5`, not `5.0`; credentials never shown; long text cut."""
    from .fields import Deferred

    if value is None:
        return NOT_SET
    if isinstance(value, SecretStr):
        return "[secret]"
    if isinstance(value, Deferred):
        return "(pulumi output)"
    if isinstance(value, BaseModel):
        value = value.model_fields_set
        return "{" + ", ".join(sorted(value)) + "}" if value else "{}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(sorted(map(str, value))) + "}" if value else "{}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def key_path(location: Iterable[Any]) -> str:
    """`jaeger.badger.volume_size`, with list positions as `[0]`."""
    key = ""
    for part in location:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key
