"""How long evaluating a stack takes under the Pulumi SDK's mock runtime, against the floor.

    python benchmarks/evaluation.py [--repeat N] [--json FILE]

Two measurements, each the median of N runs:

- cold: a fresh Python process that evaluates one stack (what a test run, `mesh-tracing plan` or
  the program's start pays), against the floor: a fresh process running an empty Pulumi program
  under the same mock runtime, and against that floor plus the provider SDK imports;
- scale: in one warm process, the prod stack with 10, 100 and 1,000 namespace overrides, against
  the SDK's own cost of registering the same number of bare Telemetry resources.

Prints a table of ratios and writes it as JSON (default benchmarks/results/evaluation.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")
OVERRIDE_COUNTS = (10, 100, 1000)

_FLOOR = """
from mesh_tracing.plan.evaluate import evaluate
evaluate("floor", {}, program=lambda: None)
"""
# The same empty program, after importing the provider SDK modules the stacks' resources live in:
# what any program that creates a Secret, a Helm release or a custom resource pays before its
# first line runs.
_SDK_FLOOR = """
import pulumi_kubernetes.apiextensions, pulumi_kubernetes.core.v1, pulumi_kubernetes.helm.v3
import pulumi_kubernetes.networking.v1, pulumi_kubernetes.policy.v1
from mesh_tracing.plan.evaluate import evaluate
evaluate("floor", {}, program=lambda: None)
"""
_STACK = """
from pathlib import Path
from mesh_tracing.plan.evaluate import evaluate_stack_file
evaluate_stack_file(Path({stacks!r}), {stack!r})
"""


def _median_seconds(action: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cold(code: str, repeat: int) -> float:
    def once() -> None:
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)

    return _median_seconds(once, repeat)


def cold_start(repeat: int) -> dict[str, Any]:
    floor = _cold(_FLOOR, repeat)
    sdk_floor = _cold(_SDK_FLOOR, repeat)
    rows = {}
    for stack in STACKS:
        seconds = _cold(_STACK.format(stacks=str(PROJECT_DIR / "stacks"), stack=stack), repeat)
        rows[stack] = {
            "seconds": round(seconds, 4),
            "ratio_to_floor": round(seconds / floor, 2),
            "ratio_to_sdk_floor": round(seconds / sdk_floor, 2),
        }
    return {
        "floor_seconds": round(floor, 4),
        "sdk_floor_seconds": round(sdk_floor, 4),
        "stacks": rows,
    }


def scale(repeat: int) -> dict[str, Any]:
    import pulumi_kubernetes as k8s

    from mesh_tracing.plan.evaluate import evaluate, offline_stack_config

    config, secret_keys = offline_stack_config(PROJECT_DIR / "stacks", "prod")

    def with_overrides(count: int) -> dict[str, Any]:
        namespaces = {f"team-{index:04d}": 1 for index in range(count)}
        return {**config, "mesh-tracing:tracing": {"sampling": 1, "namespaces": namespaces}}

    def bare(count: int) -> Callable[[], None]:
        def program() -> None:
            for index in range(count):
                k8s.apiextensions.CustomResource(
                    f"telemetry-{index}",
                    api_version="telemetry.istio.io/v1",
                    kind="Telemetry",
                    metadata={"name": "sampling", "namespace": f"team-{index:04d}"},
                    spec={"tracing": [{"randomSamplingPercentage": 1.0}]},
                )

        return program

    evaluate("prod", with_overrides(1), secret_keys)  # imports and first-use costs, not measured
    rows = {}
    for count in OVERRIDE_COUNTS:
        stack_config = with_overrides(count)
        ours = _median_seconds(lambda c=stack_config: evaluate("prod", c, secret_keys), repeat)
        sdk = _median_seconds(lambda n=count: evaluate("bare", {}, program=bare(n)), repeat)
        rows[str(count)] = {
            "seconds": round(ours, 4),
            "ms_per_override": round(ours / count * 1000, 3),
            "bare_sdk_seconds": round(sdk, 4),
            "ratio_to_bare_sdk": round(ours / sdk, 2),
        }
    growth = rows[str(OVERRIDE_COUNTS[-1])]["seconds"] / rows[str(OVERRIDE_COUNTS[-2])]["seconds"]
    sdk_growth = (
        rows[str(OVERRIDE_COUNTS[-1])]["bare_sdk_seconds"]
        / rows[str(OVERRIDE_COUNTS[-2])]["bare_sdk_seconds"]
    )
    return {
        "overrides": rows,
        "growth_100_to_1000": round(growth, 2),
        "bare_sdk_growth_100_to_1000": round(sdk_growth, 2),
    }


def _table(results: dict[str, Any]) -> str:
    cold, grown = results["cold_start"], results["scale"]
    lines = [
        f"cold start, median of {results['repeat']} fresh processes (floor: empty program "
        f"{cold['floor_seconds']:.3f} s; SDK floor: the same after the provider SDK imports "
        f"{cold['sdk_floor_seconds']:.3f} s)",
        "| stack | seconds | x floor | x SDK floor |",
        "| --- | --- | --- | --- |",
        *[
            f"| {stack} | {row['seconds']:.3f} | {row['ratio_to_floor']:.2f} | "
            f"{row['ratio_to_sdk_floor']:.2f} |"
            for stack, row in cold["stacks"].items()
        ],
        "",
        "prod with N namespace overrides, warm process",
        "| overrides | seconds | ms per override | bare SDK seconds | x bare SDK |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| {count} | {row['seconds']:.3f} | {row['ms_per_override']:.2f} | "
            f"{row['bare_sdk_seconds']:.3f} | {row['ratio_to_bare_sdk']:.2f} |"
            for count, row in grown["overrides"].items()
        ],
        "",
        f"growth 100 -> 1000 overrides: x{grown['growth_100_to_1000']} "
        f"(the bare SDK: x{grown['bare_sdk_growth_100_to_1000']})",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--json", type=Path, default=PROJECT_DIR / "benchmarks" / "results" / "evaluation.json"
    )
    arguments = parser.parse_args()
    results = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeat": arguments.repeat,
        "cold_start": cold_start(arguments.repeat),
        "scale": scale(arguments.repeat),
    }
    print(_table(results))
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {arguments.json}")


if __name__ == "__main__":
    main()
