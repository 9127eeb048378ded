"""Jaeger's capacity under the resources our stacks give it, against the load they must carry.

    python benchmarks/collector.py [--step-seconds S] [--json FILE]

For each storage a stack deploys (dev's memory, staging's badger, prod's Elasticsearch), the real
Jaeger binary (scripts/toolchain) runs that stack's rendered `user-config` (only listen addresses,
badger's directories and Elasticsearch's URL moved onto this machine, the cluster a stand-in that
acknowledges every write) inside a cgroup holding it to the stack's Jaeger resources: the CPU
*request* as a hard quota (our pods set no CPU limit, so the request is all a busy node
guarantees) and the memory *limit*. telemetrygen, outside the cgroup, offers Envoy-sized spans
(Istio's Envoy tags, 8 spans per trace as a 4-hop request makes) over OTLP/gRPC at rising rates,
each for S seconds. A rate is sustained when Jaeger's own counters (port 8888) show every
offered span accepted and exported, none refused or failed, and its queue drained; the capacity
is the highest sustained rate. Also measured: peak memory at that rate, heap per span held by
memory storage, and badger's bytes per span on disk.

The README's example load (2,000 requests/s through 4 hops, 8 spans each) is then set against
each environment's capacity (times its replicas), at 1 % and 5 % sampling: the verdict needs 2x
headroom. Ratios, not absolute rates, are what carry between machines.

Prints tables and writes JSON (default benchmarks/results/collector.json). Needs the toolchain's
`jaeger` and `telemetrygen`; without them it prints one SKIPPED line and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The benchmark drives the same binaries the same way tests/binaries/ does: reuse its helpers
# (localizing our config, the stand-in search cluster, Envoy's span tags) rather than copy them.
sys.path.insert(0, str(PROJECT_DIR / "tests"))

from doctor.envoy_spans import GATEWAY, Workload, envoy_tags  # noqa: E402
from support import evaluated, helm_release  # noqa: E402
from support.binaries import (  # noqa: E402
    FakeSearchCluster,
    free_port,
    localize_jaeger_config,
    toolchain_programs,
)

STORAGE_STACKS = {"memory": "dev", "badger": "staging", "elasticsearch": "prod"}
RATES = (100, 150, 250, 400, 600, 900, 1350, 2000, 3000, 4500, 7000, 10000, 15000, 22000)
"""Offered spans per second, each step about 1.5 times the last, until one is not sustained."""
FILL_SPANS = 80_000
"""Spans stored to measure what memory storage holds per span (10,000 traces)."""
SPANS_PER_TRACE = 8
EXAMPLE_REQUESTS_PER_SECOND = 2000
EXAMPLE_SPANS_PER_REQUEST = 8
HEADROOM = 2.0
CGROUP_NAME = f"mesh-tracing-collector-{os.getpid()}"
CREDENTIALS = {"JAEGER_STORAGE_USERNAME": "bench", "JAEGER_STORAGE_PASSWORD": "bench"}


# ---------------------------------------------------------------------------------------------
# Resources: a cgroup (v1 or v2) with the stack's CPU request as quota and its memory limit
# ---------------------------------------------------------------------------------------------


def _quantity_bytes(text: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"(\d+)([KMG]i?)?", text)
    if match is None:
        raise ValueError(f"unsupported memory quantity {text!r}")
    return int(match.group(1)) * units.get(match.group(2) or "", 1)


def _millicores(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


@dataclass
class Limits:
    cpu_millicores: int
    memory_bytes: int
    how: str
    """"cgroup v1", "cgroup v2", or "GOMAXPROCS/GOMEMLIMIT" where no cgroup can be made."""


class Cgroup:
    """A cgroup the benchmark makes and removes; `None` from `make` where it may not."""

    def __init__(self, directories: dict[str, Path], version: int) -> None:
        self.directories = directories
        self.version = version

    @classmethod
    def make(cls, cpu_millicores: int, memory_bytes: int) -> Optional[Cgroup]:
        root = Path("/sys/fs/cgroup")
        try:
            if (root / "cgroup.controllers").exists():
                group = root / CGROUP_NAME
                group.mkdir()
                (group / "cpu.max").write_text(f"{cpu_millicores * 100} 100000")
                (group / "memory.max").write_text(str(memory_bytes))
                return cls({"cpu": group, "memory": group}, 2)
            cpu, memory = root / "cpu" / CGROUP_NAME, root / "memory" / CGROUP_NAME
            cpu.mkdir()
            memory.mkdir()
            (cpu / "cpu.cfs_period_us").write_text("100000")
            (cpu / "cpu.cfs_quota_us").write_text(str(cpu_millicores * 100))
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            return cls({"cpu": cpu, "memory": memory}, 1)
        except OSError:
            return None

    def add(self, pid: int) -> None:
        for directory in set(self.directories.values()):
            (directory / "cgroup.procs").write_text(str(pid))

    def reset_peak(self) -> None:
        if self.version == 1:
            (self.directories["memory"] / "memory.max_usage_in_bytes").write_text("0")
        else:
            peak = self.directories["memory"] / "memory.peak"
            if peak.exists():
                peak.write_text("0")

    def throttled_seconds(self) -> float:
        """CPU time the quota held Jaeger back, so far."""
        text = (self.directories["cpu"] / "cpu.stat").read_text()
        if self.version == 1:
            match = re.search(r"throttled_time (\d+)", text)
            return int(match.group(1)) / 1e9 if match else 0.0
        match = re.search(r"throttled_usec (\d+)", text)
        return int(match.group(1)) / 1e6 if match else 0.0

    def peak_bytes(self) -> int:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        return int((self.directories["memory"] / name).read_text())

    def oom_killed(self) -> bool:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        text = (self.directories["memory"] / name).read_text()
        match = re.search(r"oom_kill (\d+)", text)
        return bool(match and int(match.group(1)))

    def remove(self) -> None:
        for directory in set(self.directories.values()):
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


def _process_rss_peak(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 if match else 0


# ---------------------------------------------------------------------------------------------
# Jaeger and its counters
# ---------------------------------------------------------------------------------------------

_COUNTERS = {
    "accepted": "otelcol_receiver_accepted_spans",
    "refused": "otelcol_receiver_refused_spans",
    "receive_failed": "otelcol_receiver_failed_spans",
    "sent": "otelcol_exporter_sent_spans",
    "send_failed": "otelcol_exporter_send_failed_spans",
    "enqueue_failed": "otelcol_exporter_enqueue_failed_spans",
    "queue": "otelcol_exporter_queue_size",
}


def read_counters(metrics_url: str) -> dict[str, float]:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    totals = dict.fromkeys(_COUNTERS, 0.0)
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        for key, metric in _COUNTERS.items():
            # Counters carry a `_total` suffix in newer collectors; both are the same number.
            if re.match(rf"{metric}(_total)?[{{ ]", line):
                totals[key] += float(line.rsplit(" ", 1)[1])
    return totals


@dataclass
class RunningJaeger:
    popen: subprocess.Popen
    ports: dict[int, int]
    cgroup: Optional[Cgroup]
    volume: Optional[Path]
    log: Path

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[8888]}/metrics"

    def peak_memory(self) -> int:
        """The most memory Jaeger held since the last reset: its cgroup's, else its own."""
        if self.cgroup is not None:
            return self.cgroup.peak_bytes()
        return _process_rss_peak(self.popen.pid) if self.popen.poll() is None else 0


def _userconfig(storage: str) -> dict[str, Any]:
    return helm_release(evaluated(STORAGE_STACKS[storage]), "jaeger")["values"]["userconfig"]


def _resources(storage: str) -> dict[str, Any]:
    values = helm_release(evaluated(STORAGE_STACKS[storage]), "jaeger")["values"]["jaeger"]
    return {
        "resources": values["resources"],
        "replicas": values["replicas"],
        # The pod's plain environment (GOMEMLIMIT); credentials come from CREDENTIALS.
        "env": {e["name"]: e["value"] for e in values.get("extraEnv", []) if "value" in e},
    }


@contextmanager
def jaeger(bin_dir: Path, storage: str, work: Path) -> Iterator[tuple[RunningJaeger, Limits]]:
    volume = work / "badger" if storage == "badger" else None
    local = localize_jaeger_config(_userconfig(storage), volume)
    local.ports.setdefault(8888, free_port())
    cluster = None
    if storage == "elasticsearch":
        cluster = FakeSearchCluster(storage, record=False)
        local.config["extensions"]["jaeger_storage"]["backends"]["primary"][storage][
            "server_urls"
        ] = [cluster.url]
    config = work / f"{storage}.yaml"
    config.write_text(yaml.safe_dump(local.config))
    pod = _resources(storage)
    resources = pod["resources"]
    cpu = _millicores(resources["requests"]["cpu"])
    memory = _quantity_bytes(resources["limits"]["memory"])
    cgroup = Cgroup.make(cpu, memory)
    env = {**os.environ, **pod["env"], **CREDENTIALS}
    if cgroup is None:
        env["GOMAXPROCS"] = str(max(1, math.ceil(cpu / 1000)))
        env["GOMEMLIMIT"] = str(memory)
        limits = Limits(cpu, memory, "GOMAXPROCS/GOMEMLIMIT")
    else:
        limits = Limits(cpu, memory, f"cgroup v{cgroup.version}")
    log = work / f"{storage}.log"
    with log.open("w") as output:
        popen = subprocess.Popen(
            [str(bin_dir / "jaeger"), "--config", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            # Joined before exec, so no byte of Jaeger's start runs outside its limits.
            preexec_fn=(lambda: cgroup.add(os.getpid())) if cgroup else None,
        )
    running = RunningJaeger(popen, local.ports, cgroup, volume, log)
    try:
        _wait_healthy(running, f"http://127.0.0.1:{local.ports[13133]}/status")
        yield running, limits
    finally:
        if popen.poll() is None:
            # SIGTERM, so badger flushes its memtables and the bytes on disk are all there.
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        if cluster is not None:
            cluster.close()
        if cgroup is not None:
            cgroup.remove()


def _wait_healthy(running: RunningJaeger, url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if running.popen.poll() is not None:
            raise SystemExit(f"jaeger exited:\n{running.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"jaeger not healthy within 90 s:\n{running.log.read_text()[-3000:]}")


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------


def _attribute_flags() -> list[str]:
    tags = envoy_tags(
        Workload("reviews", "bookinfo"),
        "8f6b7f1e-3c1d-4f5e-9a2b-6c7d8e9f0a1b",
        GATEWAY.outbound_cluster,
        "reviews.bookinfo.svc.cluster.local:9080/*",
    )
    flags = []
    for key, value in tags.items():
        flags += ["--telemetry-attributes", f'{key}="{value}"']
    return flags


def offer(bin_dir: Path, otlp_port: int, spans_per_second: int, seconds: int) -> dict[str, Any]:
    """telemetrygen at `spans_per_second` for `seconds`, in traces of SPANS_PER_TRACE spans.
    Its `--rate` counts spans (each span waits on the worker's limiter), per worker."""
    # One worker tops out near 1,200 spans/s (measured: at 1,350 it fell short whatever
    # Jaeger's quota); keep each well below that.
    workers = max(1, math.ceil(spans_per_second / 600))
    command = [
        str(bin_dir / "telemetrygen"),
        "traces",
        "--otlp-endpoint",
        f"127.0.0.1:{otlp_port}",
        "--otlp-insecure",
        "--service",
        "reviews.bookinfo",
        "--child-spans",
        str(SPANS_PER_TRACE - 1),
        "--span-duration",
        "3ms",
        "--workers",
        str(workers),
        "--rate",
        f"{spans_per_second / workers:.3f}",
        "--duration",
        f"{seconds}s",
        "--allow-export-failures",
        *_attribute_flags(),
    ]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    return {
        "exit": result.returncode,
        "seconds": time.monotonic() - started,
        "export_errors": result.stderr.count("failed to export")
        + result.stdout.count("failed to export"),
        "tail": (result.stdout + result.stderr)[-600:],
    }


def _drained(running: RunningJaeger, accepted: float, seconds: float = 30) -> dict[str, float]:
    """The counters once Jaeger has exported what it accepted (or `seconds` have passed)."""
    deadline = time.monotonic() + seconds
    counters = read_counters(running.metrics_url)
    while time.monotonic() < deadline:
        done = counters["sent"] + counters["send_failed"] >= counters["accepted"]
        if done and counters["queue"] == 0 and counters["accepted"] >= accepted:
            break
        time.sleep(0.5)
        counters = read_counters(running.metrics_url)
    return counters


def step(
    bin_dir: Path, running: RunningJaeger, spans_per_second: int, seconds: int
) -> dict[str, Any]:
    before = read_counters(running.metrics_url)
    throttled_before = running.cgroup.throttled_seconds() if running.cgroup else 0.0
    if running.cgroup is not None:
        running.cgroup.reset_peak()
    load = offer(bin_dir, running.ports[4317], spans_per_second, seconds)
    after = _drained(running, before["accepted"] + spans_per_second * seconds * 0.99)
    delta = {key: after[key] - before[key] for key in _COUNTERS if key != "queue"}
    offered = spans_per_second * seconds
    failed = sum(
        delta[key] for key in ("refused", "receive_failed", "send_failed", "enqueue_failed")
    )
    alive = running.popen.poll() is None
    sustained = (
        alive
        and load["exit"] == 0
        and load["export_errors"] == 0
        and failed == 0
        # telemetrygen's last batch may still be in flight when its duration ends.
        and delta["accepted"] >= 0.95 * offered
        and delta["sent"] >= delta["accepted"]
        # Not keeping up shows as telemetrygen taking longer than asked to offer its spans.
        and load["seconds"] <= seconds * 1.15 + 2
    )
    peak = running.peak_memory()
    return {
        "offered_spans_per_second": spans_per_second,
        "offered": offered,
        "accepted": int(delta["accepted"]),
        "exported": int(delta["sent"]),
        "refused_or_failed": int(failed),
        "generator_seconds": round(load["seconds"], 1),
        # Held back by the CPU quota for this share of the step: near 0, the limit lay elsewhere.
        "throttled_share": round(
            ((running.cgroup.throttled_seconds() - throttled_before) / load["seconds"])
            if running.cgroup
            else 0.0,
            2,
        ),
        "generator_export_errors": load["export_errors"],
        "peak_memory_bytes": peak,
        "jaeger_alive": alive,
        "oom_killed": bool(running.cgroup and running.cgroup.oom_killed()),
        "sustained": sustained,
        **({} if sustained else {"generator_tail": load["tail"]}),
    }


def fill_memory(bin_dir: Path, running: RunningJaeger, idle: int) -> dict[str, Any]:
    """Store FILL_SPANS more spans, with the CPU quota lifted (what a span costs in memory
    does not depend on how fast it came), and read what the cgroup holds afterwards: the
    heap per stored span, garbage not yet collected included, as the kernel's limit sees it."""
    if running.cgroup is None:
        return {}
    quota = running.cgroup.directories["cpu"] / (
        "cpu.cfs_quota_us" if running.cgroup.version == 1 else "cpu.max"
    )
    saved = quota.read_text().strip()
    quota.write_text("-1" if running.cgroup.version == 1 else "max 100000")
    try:
        before = read_counters(running.metrics_url)["accepted"]
        subprocess.run(
            [
                str(bin_dir / "telemetrygen"),
                "traces",
                "--otlp-endpoint",
                f"127.0.0.1:{running.ports[4317]}",
                "--otlp-insecure",
                "--service",
                "reviews.bookinfo",
                "--child-spans",
                str(SPANS_PER_TRACE - 1),
                # Unthrottled, the generator's own batch queue would drop spans.
                "--workers",
                "2",
                "--rate",
                "2000",
                "--traces",
                str(FILL_SPANS // SPANS_PER_TRACE // 2),
                *_attribute_flags(),
            ],
            capture_output=True,
            check=True,
            timeout=600,
        )
        counters = _drained(running, before + FILL_SPANS)
    finally:
        quota.write_text(saved)
    held = counters["accepted"]
    usage_file = "memory.usage_in_bytes" if running.cgroup.version == 1 else "memory.current"
    usage = int((running.cgroup.directories["memory"] / usage_file).read_text())
    per_span = (usage - idle) / max(held, 1)
    max_traces = _userconfig("memory")["extensions"]["jaeger_storage"]["backends"]["primary"][
        "memory"
    ]["max_traces"]
    return {
        "spans_held": int(held),
        "memory_held_bytes": usage,
        "memory_bytes_per_span_held": round(per_span),
        "max_traces": max_traces,
        "memory_at_max_traces_bytes": round(idle + per_span * max_traces * SPANS_PER_TRACE),
    }


def _directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(bin_dir: Path, storage: str, seconds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"collector-{storage}-") as temp:
        work = Path(temp)
        with jaeger(bin_dir, storage, work) as (running, limits):
            idle = running.peak_memory()
            steps = []
            for rate in RATES:
                print(f"  {storage}: {rate} spans/s for {seconds} s", file=sys.stderr, flush=True)
                outcome = step(bin_dir, running, rate, seconds)
                steps.append(outcome)
                if not outcome["sustained"]:
                    break
            fill = fill_memory(bin_dir, running, idle) if storage == "memory" else {}
            total_accepted = (
                read_counters(running.metrics_url)["accepted"]
                if (running.popen.poll() is None)
                else sum(s["accepted"] for s in steps)
            )
        sustained = [s for s in steps if s["sustained"]]
        capacity = sustained[-1]["offered_spans_per_second"] if sustained else 0
        result: dict[str, Any] = {
            "stack": STORAGE_STACKS[storage],
            "limits": {
                "cpu_millicores": limits.cpu_millicores,
                "memory_bytes": limits.memory_bytes,
                "how": limits.how,
            },
            "replicas": _resources(storage)["replicas"],
            "idle_memory_bytes": idle,
            "capacity_spans_per_second": capacity,
            "peak_memory_at_capacity_bytes": sustained[-1]["peak_memory_bytes"] if sustained else 0,
            "capacity_is_a_floor": len(sustained) == len(RATES),
            "steps": steps,
        }
        result.update(fill)
        if storage == "badger" and running.volume is not None:
            result["badger_bytes_per_span"] = round(
                _directory_bytes(running.volume) / max(total_accepted, 1)
            )
        return result


# ---------------------------------------------------------------------------------------------
# Against the example load
# ---------------------------------------------------------------------------------------------


def verdicts(storages: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for sampling in (1, 5):
        spans = EXAMPLE_REQUESTS_PER_SECOND * EXAMPLE_SPANS_PER_REQUEST * sampling / 100
        for storage, measured in storages.items():
            capacity = measured["capacity_spans_per_second"] * measured["replicas"]
            headroom = capacity / spans if spans else math.inf
            rows.append(
                {
                    "sampling_percent": sampling,
                    "spans_per_second": spans,
                    "stack": measured["stack"],
                    "storage": storage,
                    "capacity_spans_per_second": capacity,
                    "headroom": round(headroom, 2),
                    "holds_with_2x_headroom": headroom >= HEADROOM,
                }
            )
    return rows


def _mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


def table(results: dict[str, Any]) -> str:
    lines = [
        "| stack | storage | limits (cpu, memory) | replicas | sustained spans/s per replica "
        "| peak memory there | idle memory |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for storage, row in results["storages"].items():
        limits = row["limits"]
        floor = " or more" if row["capacity_is_a_floor"] else ""
        lines.append(
            f"| {row['stack']} | {storage} | {limits['cpu_millicores']}m, "
            f"{_mib(limits['memory_bytes'])} ({limits['how']}) | {row['replicas']} | "
            f"{row['capacity_spans_per_second']}{floor} | "
            f"{_mib(row['peak_memory_at_capacity_bytes'])} | {_mib(row['idle_memory_bytes'])} |"
        )
    memory = results["storages"].get("memory", {})
    badger = results["storages"].get("badger", {})
    lines.append("")
    if "memory_bytes_per_span_held" in memory:
        lines.append(
            f"memory storage: {memory['memory_bytes_per_span_held']} bytes of heap per span held; "
            f"full at max_traces {memory['max_traces']} x {SPANS_PER_TRACE} spans: "
            f"{_mib(memory['memory_at_max_traces_bytes'])} against a "
            f"{_mib(memory['limits']['memory_bytes'])} limit"
        )
    if "badger_bytes_per_span" in badger:
        lines.append(f"badger: {badger['badger_bytes_per_span']} bytes on disk per span")
    lines += [
        "",
        f"example load: {EXAMPLE_REQUESTS_PER_SECOND} requests/s x {EXAMPLE_SPANS_PER_REQUEST} "
        f"spans; capacity is per replica x replicas; verdict needs {HEADROOM:g}x headroom",
        "| sampling | spans/s | stack | capacity spans/s | headroom | holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["verdicts"]:
        lines.append(
            f"| {row['sampling_percent']} % | {row['spans_per_second']:g} | {row['stack']} | "
            f"{row['capacity_spans_per_second']} | {row['headroom']:.2f}x | "
            f"{'yes' if row['holds_with_2x_headroom'] else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step-seconds", type=int, default=15)
    parser.add_argument("--storage", action="append", choices=sorted(STORAGE_STACKS))
    parser.add_argument(
        "--json", type=Path, default=PROJECT_DIR / "benchmarks" / "results" / "collector.json"
    )
    arguments = parser.parse_args()
    bin_dir, why_not = toolchain_programs("jaeger,telemetrygen")
    if bin_dir is None:
        print(why_not)
        return 0
    storages = {}
    for storage in arguments.storage or list(STORAGE_STACKS):
        storages[storage] = measure(bin_dir, storage, arguments.step_seconds)
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cores": os.cpu_count(),
            "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "arch": platform.machine(),
        },
        "jaeger": subprocess.run(
            [str(bin_dir / "jaeger"), "version"], capture_output=True, text=True, check=False
        ).stdout.strip()[:200],
        "step_seconds": arguments.step_seconds,
        "spans_per_trace": SPANS_PER_TRACE,
        "storages": storages,
        "verdicts": verdicts(storages),
    }
    print(table(results))
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {arguments.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
