"""Rules between fields: declared with the fields they read, so each one runs whenever those
fields are valid, even when other fields of the same section are not.

Pydantic's model validators run only once every field has validated; a user with two mistakes
in a section would then see one, fix it, and only then meet the other. Here a rule is skipped
only when a field it reads is itself wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel

from .fields import nested_model


@dataclass(frozen=True)
class Violation:
    """A broken rule, pointing at one key (relative to the model the rule belongs to)."""

    key: str
    value: Any
    reason: str
    allowed: str


@dataclass(frozen=True)
class RuleInput:
    """The values a rule reads (valid ones only), and the environment being judged."""

    model: type[BaseModel]
    data: Any
    environment: Optional[str]
    production: bool

    def get(self, path: str) -> Any:
        """The value at a dotted path, or the field's default where the data leaves it out."""
        node, model = self.data, self.model
        for part in path.split("."):
            field = model.model_fields.get(part) if model is not None else None
            if isinstance(node, BaseModel):
                node = getattr(node, part, None)
            elif isinstance(node, Mapping) and part in node:
                node = node[part]
            elif field is not None and isinstance(node, Mapping):
                node = field.get_default(call_default_factory=True)
            else:
                return None
            model = nested_model(field.annotation) if field is not None else None
        return node


Check = Callable[[RuleInput], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """`reads` are dotted paths; a trailing `?` reads only whether the key is there, so a
    mistake inside that object does not stop the rule."""

    reads: tuple[str, ...]
    check: Check

    def blocked_by(self, failed: Iterable[tuple[Any, ...]]) -> bool:
        failed = list(failed)
        for read in self.reads:
            presence_only = read.endswith("?")
            path = tuple(read.rstrip("?").split("."))
            for location in failed:
                if path[: len(location)] == location:
                    return True
                if not presence_only and location[: len(path)] == path:
                    return True
        return False


_RULES: dict[type[BaseModel], list[Rule]] = {}


def rule(*models: type[BaseModel], reads: tuple[str, ...]) -> Callable[[Check], Check]:
    """Register a check as a rule of each of `models`."""

    def register(check: Check) -> Check:
        for model in models:
            _RULES.setdefault(model, []).append(Rule(reads, check))
        return check

    return register


def rules_of(model: type[BaseModel]) -> list[Rule]:
    return _RULES.get(model, [])
