"""What tests/binaries/ needs: the upstream programs the toolchain builds (found the way the e2e
suite finds them, never built here), free local ports, processes with a log, our generated
Jaeger config moved onto 127.0.0.1, and a minimal client of Jaeger's api_v2 QueryService, the
gRPC API Kiali reads traces from."""

from __future__ import annotations

import copy
import gzip
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .toolchain import built


def toolchain_programs(names: str) -> tuple[Optional[Path], str]:
    """The toolchain's bin directory when the programs NAMES are built, else None and a
    `SKIPPED: ` reason."""
    bin_dir, missing = built(names)
    if bin_dir is not None:
        return bin_dir, ""
    return None, (
        f"SKIPPED: the real upstream binaries ({names}) are not built (missing {missing}; "
        f"`scripts/toolchain --only {names}` builds them from the Go module proxy)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    """A started program, its output going to `log`."""

    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_http(self, url: str, seconds: float = 60.0, accept: Sequence[int] = (200,)) -> int:
        """Poll `url` until it answers one of `accept`; fail with the program's log when it
        exits or the time is up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"{url}: the program exited ({self.popen.returncode}):\n{self.output()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status in accept:
                        return response.status
            except urllib.error.HTTPError as error:
                if error.code in accept:
                    return error.code
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{url}: no answer within {seconds:g} s:\n{self.output()}")


@contextmanager
def started(
    argv: Sequence[str], log: Path, env: Optional[Mapping[str, str]] = None, cwd: Path | None = None
) -> Iterator[Process]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        popen = subprocess.Popen(
            list(argv),
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    try:
        yield Process(popen, log)
    finally:
        # Nothing to keep (temporary directories): killed at once, not drained.
        popen.kill()
        popen.wait()


def eventually(
    check: Any,
    seconds: float,
    retry_on: tuple[type[BaseException], ...] = (AssertionError,),
    interval: float = 0.3,
) -> Any:
    """`check()`'s value once it stops raising one of `retry_on`; after `seconds`, what it
    raised last."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except retry_on:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


def http_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------------------------------------
# Jaeger: our `userconfig` on local ports
# ---------------------------------------------------------------------------------------------


@dataclass
class LocalJaegerConfig:
    """Our generated Jaeger config with only its listen addresses moved to free 127.0.0.1
    ports and badger's directories moved into a temporary directory (the volume). `changes`
    lists every value changed, as (path, ours, local)."""

    config: dict[str, Any]
    ports: dict[str, int]
    """The port we configure (4317, 16686, ...) -> the local port standing in for it."""
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)

    def port(self, ours: int) -> int:
        return self.ports[ours]


def localize_jaeger_config(
    userconfig: Mapping[str, Any], volume: Optional[Path]
) -> LocalJaegerConfig:
    config = copy.deepcopy(dict(userconfig))
    local = LocalJaegerConfig(config=config, ports={})

    def local_port(ours: int) -> int:
        if ours not in local.ports:
            local.ports[ours] = free_port()
        return local.ports[ours]

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in list(node.items()):
                here = f"{path}.{key}" if path else str(key)
                if key == "endpoint" and isinstance(value, str) and value.count(":") == 1:
                    _, port = value.rsplit(":", 1)
                    node[key] = f"127.0.0.1:{local_port(int(port))}"
                    local.changes.append((here, value, node[key]))
                elif key == "prometheus" and isinstance(value, dict) and "port" in value:
                    ours = int(value["port"])
                    new = {**value, "host": "127.0.0.1", "port": local_port(ours)}
                    local.changes.append((here, dict(value), new))
                    node[key] = new
                elif key == "directories" and isinstance(value, dict) and volume is not None:
                    # Our paths live under the PVC's mount path (/badger); keep what is below it.
                    new = {
                        name: str(volume / Path(str(directory)).name)
                        for name, directory in value.items()
                    }
                    local.changes.append((here, dict(value), new))
                    node[key] = new
                else:
                    walk(value, here)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(config, "")
    return local


# ---------------------------------------------------------------------------------------------
# Jaeger's api_v2 QueryService over gRPC, as Kiali calls it (tracing/jaeger/grpc_client.go:
# GetServices, then FindTraces with service, time window, duration_min and search_depth)
# ---------------------------------------------------------------------------------------------


def _query_messages() -> dict[str, Any]:
    """The few messages of jaeger-idl's proto/api_v2 (query.proto, model.proto) the calls need,
    with their field numbers; fields left out are skipped by the decoder as unknown."""
    from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, timestamp_pb2
    from google.protobuf.message_factory import GetMessageClass

    F = descriptor_pb2.FieldDescriptorProto
    pool = descriptor_pool.DescriptorPool()
    for dependency in (timestamp_pb2, duration_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        dependency.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    file = descriptor_pb2.FileDescriptorProto(
        name="mesh_tracing_jaeger_api_v2.proto",
        package="jaeger.api_v2",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto", "google/protobuf/duration.proto"],
    )

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        proto = file.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            added = proto.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = type_name

    one, many = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("GetServicesRequest")
    message("GetServicesResponse", ("services", 1, F.TYPE_STRING, many, ""))
    message(
        "TraceQueryParameters",
        ("service_name", 1, F.TYPE_STRING, one, ""),
        ("start_time_min", 4, F.TYPE_MESSAGE, one, ".google.protobuf.Timestamp"),
        ("start_time_max", 5, F.TYPE_MESSAGE, one, ".google.protobuf.Timestamp"),
        ("duration_min", 6, F.TYPE_MESSAGE, one, ".google.protobuf.Duration"),
        ("search_depth", 8, F.TYPE_INT32, one, ""),
    )
    message(
        "FindTracesRequest",
        ("query", 1, F.TYPE_MESSAGE, one, ".jaeger.api_v2.TraceQueryParameters"),
    )
    message("Process", ("service_name", 1, F.TYPE_STRING, one, ""))
    message(
        "Span",
        ("trace_id", 1, F.TYPE_BYTES, one, ""),
        ("span_id", 2, F.TYPE_BYTES, one, ""),
        ("operation_name", 3, F.TYPE_STRING, one, ""),
        ("process", 10, F.TYPE_MESSAGE, one, ".jaeger.api_v2.Process"),
    )
    message("SpansResponseChunk", ("spans", 1, F.TYPE_MESSAGE, many, ".jaeger.api_v2.Span"))
    pool.Add(file)
    return {
        name: GetMessageClass(pool.FindMessageTypeByName(f"jaeger.api_v2.{name}"))
        for name in (
            "GetServicesRequest",
            "GetServicesResponse",
            "TraceQueryParameters",
            "FindTracesRequest",
            "SpansResponseChunk",
        )
    }


@dataclass(frozen=True)
class FoundSpan:
    trace_id: str
    service: str
    operation: str


class JaegerQueryClient:
    """`jaeger.api_v2.QueryService` at host:port, plaintext, as Kiali dials `internal_url`."""

    SERVICE = "/jaeger.api_v2.QueryService"

    def __init__(self, address: str) -> None:
        import grpc

        self._messages = _query_messages()
        self._channel = grpc.insecure_channel(address)

    def close(self) -> None:
        self._channel.close()

    def services(self) -> list[str]:
        m = self._messages
        call = self._channel.unary_unary(
            f"{self.SERVICE}/GetServices",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=m["GetServicesResponse"].FromString,
        )
        return list(call(m["GetServicesRequest"](), timeout=10).services)

    def find_traces(self, service: str, lookback_seconds: int = 600) -> list[FoundSpan]:
        m = self._messages
        query = m["TraceQueryParameters"](service_name=service, search_depth=20)
        now = time.time()
        query.start_time_min.FromSeconds(int(now - lookback_seconds))
        query.start_time_max.FromSeconds(int(now + 60))
        query.duration_min.FromSeconds(0)
        call = self._channel.unary_stream(
            f"{self.SERVICE}/FindTraces",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=m["SpansResponseChunk"].FromString,
        )
        found = []
        for chunk in call(m["FindTracesRequest"](query=query), timeout=10):
            for span in chunk.spans:
                found.append(
                    FoundSpan(span.trace_id.hex(), span.process.service_name, span.operation_name)
                )
        return found


# ---------------------------------------------------------------------------------------------
# A stand-in for the Elasticsearch / OpenSearch cluster: answers what Jaeger's client asks at
# start (the ping, the version, the index templates) and records every request
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchRequest:
    method: str
    path: str
    authorization: str
    body: bytes


class FakeSearchCluster:
    """An Elasticsearch or OpenSearch that acknowledges everything. `record=False` keeps no
    requests (the collector benchmark sends it hundreds of megabytes)."""

    def __init__(self, distribution: str, record: bool = True) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        if distribution == "opensearch":
            version = {"distribution": "opensearch", "number": "2.19.0"}
        else:
            version = {"number": "8.17.0", "build_flavor": "default"}
        # Jaeger tells the two apart by the tagline (OpenSearch answers as ES 7 would).
        tagline = (
            "The OpenSearch Project: https://opensearch.org/"
            if distribution == "opensearch"
            else "You Know, for Search"
        )
        info = json.dumps(
            {"name": "stand-in", "cluster_name": "stand-in", "version": version, "tagline": tagline}
        )
        self.requests: list[SearchRequest] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self._body()
                if record:
                    recorded.append(
                        SearchRequest(
                            self.command, self.path, self.headers.get("Authorization", ""), body
                        )
                    )
                if self.path.split("?")[0] in ("", "/"):
                    payload = info.encode()
                elif self.path.startswith("/_bulk"):
                    payload = json.dumps({"took": 1, "errors": False, "items": []}).encode()
                else:
                    payload = b'{"acknowledged": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                # What the Go clients check to accept the server as the product they expect.
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else b""
                if self.headers.get("Content-Encoding", "").lower() == "gzip" and body:
                    body = gzip.decompress(body)
                return body

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
