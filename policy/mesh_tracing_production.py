"""What counts as a production stack: the one definition the policy pack and the mesh-tracing
config models share.

Standard library only, and a file of the policy pack, so the pack stays self-contained (it
judges stacks that do not use our components); the mesh-tracing package installs this same file
as a top-level module, so the config models cannot disagree with the pack.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Optional

PRODUCTION_ENVIRONMENT = "prod"
DEFAULT_PRODUCTION_STACK_PATTERNS = ("prod", "prod-*", "production*")
PRODUCTION_SAMPLING_CAP_PERCENT = 5.0


def named_like_production(
    stack: str, patterns: Iterable[str] = DEFAULT_PRODUCTION_STACK_PATTERNS
) -> bool:
    """Whether a stack's name matches a production pattern (fnmatch, any letter case: `PROD` is
    as much production as `prod`)."""
    return any(fnmatch.fnmatchcase(stack.lower(), pattern.lower()) for pattern in patterns)


def is_production(
    stack: str,
    environment: Optional[str],
    patterns: Iterable[str] = DEFAULT_PRODUCTION_STACK_PATTERNS,
) -> bool:
    """Production by the stack's own declaration or by its name: renaming the environment key
    must not slip a production stack past the rules."""
    return environment == PRODUCTION_ENVIRONMENT or named_like_production(stack, patterns)
