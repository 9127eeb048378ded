"""Runs the policy pack the way the Pulumi engine does: as a process spoken to over gRPC."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
STARTUP_SECONDS = 60


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(json.dumps(values)))
    return struct


class Analyzer:
    def __init__(self, stub: analyzer_pb2_grpc.AnalyzerStub):
        self.stub = stub

    def info(self) -> Any:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, policy_config: Mapping[str, Mapping[str, Any]]) -> None:
        self.stub.Configure(
            analyzer_pb2.ConfigureAnalyzerRequest(
                policyConfig={
                    name: analyzer_pb2.PolicyConfig(
                        enforcementLevel=analyzer_pb2.MANDATORY, properties=_struct(properties)
                    )
                    for name, properties in policy_config.items()
                }
            )
        )

    def analyze(
        self, resource_type: str, name: str, properties: Mapping[str, Any], urn: str = ""
    ) -> list[Any]:
        urn = urn or f"urn:pulumi:test::mesh-tracing::{resource_type}::{name}"
        response = self.stub.Analyze(
            analyzer_pb2.AnalyzeRequest(
                type=resource_type, name=name, urn=urn, properties=_struct(properties)
            )
        )
        return list(response.diagnostics)

    def analyze_stack(
        self, resources: Iterable[tuple[str, str, str, Mapping[str, Any], Optional[str]]]
    ) -> list[Any]:
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=resource_type,
                    name=name,
                    urn=urn,
                    properties=_struct(properties),
                    parent=parent or "",
                )
                for resource_type, name, urn, properties, parent in resources
            ]
        )
        return list(self.stub.AnalyzeStack(request).diagnostics)


@contextmanager
def running_pack(
    stack: Optional[str], config: Optional[Mapping[str, Any]] = None, project: str = "mesh-tracing"
) -> Iterator[Analyzer]:
    """Start `policy/__main__.py` with the environment the engine gives an analyzer plugin
    (`stack` None: a host that does not name the stack)."""
    environment = {
        **os.environ,
        "PULUMI_PROJECT": project,
        **({"PULUMI_STACK": stack} if stack is not None else {}),
        "PULUMI_DRY_RUN": "true",
        "PULUMI_CONFIG": json.dumps(
            {
                key: value if isinstance(value, str) else json.dumps(value)
                for key, value in (config or {}).items()
            }
        ),
    }
    process = subprocess.Popen(
        [sys.executable, "-u", str(POLICY_DIR / "__main__.py")],
        cwd=POLICY_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
        if not ready:
            raise RuntimeError("the policy pack printed no port")
        line = process.stdout.readline().strip()  # type: ignore[union-attr]
        if not line.isdigit():
            raise RuntimeError(f"policy pack failed to start: {line}{process.stderr.read()}")  # type: ignore[union-attr]
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)
        try:
            yield Analyzer(analyzer_pb2_grpc.AnalyzerStub(channel))
        finally:
            channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
