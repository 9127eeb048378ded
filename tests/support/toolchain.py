"""Which of the toolchain's programs are built, as `scripts/toolchain --check` says (it never
builds; its last line is the bin directory)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Optional

from . import PROJECT_DIR


@functools.cache
def built(names: str) -> tuple[Optional[Path], str]:
    """The bin directory when the programs NAMES (comma-separated, as in `scripts/toolchain
    --list`) are built for the current pins, else None and what is missing."""
    result = subprocess.run(
        [str(PROJECT_DIR / "scripts" / "toolchain"), "--check", "--only", names],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    bin_dir = Path(lines[-1]) if lines else None
    if result.returncode == 0 and bin_dir is not None and bin_dir.is_dir():
        return bin_dir, ""
    missing = [
        line.removeprefix("missing:").strip()
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith("missing:")
    ]
    return None, "; ".join(missing) or " ".join(result.stderr.split())[-200:]
