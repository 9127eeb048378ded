"""A client for Jaeger's HTTP query API, the one its UI uses, under the query base path.

Jaeger v2 serves it at `<base path>/api/...` (`jaeger_query` extension, `base_path`; our stacks
set `/jaeger`): `/api/services`, `/api/traces?service=&start=&end=&limit=` (times in
microseconds since the epoch) and `/api/traces/{trace id}`, each answering
`{"data": [...], "errors": ...}`. A search returns at most `limit` traces and has no offset, so a
window with more traces is split in halves until each half fits, bounded by `max_traces`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from .model import BadTraceData, Trace, parse_trace
from .transport import CheckError, get_json, with_query

SMALLEST_SPLIT_US = 1_000_000


@dataclass
class TraceWindow:
    traces: list[Trace]
    truncated: bool
    """True when `max_traces` stopped the reading: the findings cover a part of the window."""


class JaegerClient:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _data(self, path: str, params: Optional[dict[str, Any]] = None) -> Any:
        url = with_query(f"{self.base_url}{path}", params or {})
        hint = (
            "; is the URL Jaeger's, with its query base path (our stacks' "
            "`jaeger.query_base_path`, `/jaeger` by default)?"
        )
        try:
            document = get_json(url, self.timeout, expected="a Jaeger query API answer")
        except CheckError as error:
            # Without the base path Jaeger serves its UI's page, or 404, for every API path.
            if "not with JSON" in str(error) or "HTTP 404" in str(error):
                raise CheckError(f"{error}{hint}") from None
            raise
        if not isinstance(document, dict) or "data" not in document:
            raise CheckError(f"{url}: not a Jaeger query API answer (no `data`){hint}")
        if document.get("errors"):
            raise CheckError(f"{url}: Jaeger answered with errors: {document['errors']}")
        return document["data"]

    def services(self) -> list[str]:
        # An empty Jaeger answers `"data": null`.
        data = self._data("/api/services") or []
        if not isinstance(data, list):
            raise CheckError(f"{self.base_url}/api/services: `data` is not a list of services")
        return sorted(str(name) for name in data)

    def find_traces(self, service: str, start_us: int, end_us: int, limit: int) -> list[Trace]:
        params = {"service": service, "start": start_us, "end": end_us, "limit": limit}
        data = self._data("/api/traces", params)
        return self._parse(data, with_query(f"{self.base_url}/api/traces", params))

    def trace(self, trace_id: str) -> Optional[Trace]:
        """A trace by id, or None while Jaeger does not have it."""
        url = f"{self.base_url}/api/traces/{trace_id}"
        document = get_json(url, self.timeout, expected="a trace", not_found_ok=True)
        if document is None:
            return None
        data = document.get("data") if isinstance(document, dict) else None
        if data is None:
            return None
        traces = self._parse(data, url)
        return traces[0] if traces else None

    def _parse(self, data: Any, url: str) -> list[Trace]:
        if not isinstance(data, list):
            raise CheckError(f"{url}: `data` is not a list of traces")
        try:
            return [parse_trace(item) for item in data]
        except BadTraceData as error:
            raise CheckError(f"{url}: {error}") from None

    def read_window(
        self,
        services: Iterable[str],
        start_us: int,
        end_us: int,
        *,
        limit: int = 500,
        max_traces: int = 5000,
    ) -> TraceWindow:
        """Every trace with a span of one of `services` in the window, up to `max_traces`."""
        found: dict[str, Trace] = {}
        truncated = False
        for service in services:
            pending = [(start_us, end_us)]
            while pending:
                if len(found) >= max_traces:
                    truncated = True
                    break
                start, end = pending.pop()
                batch = self.find_traces(service, start, end, limit)
                for trace in batch:
                    found.setdefault(trace.trace_id, trace)
                if len(batch) >= limit:
                    if end - start <= SMALLEST_SPLIT_US:
                        # A second holding more traces than one search returns: what was read
                        # stands for it.
                        truncated = True
                        continue
                    middle = (start + end) // 2
                    pending.extend([(start, middle), (middle, end)])
        traces = sorted(found.values(), key=lambda trace: trace.trace_id)
        return TraceWindow(traces[:max_traces], truncated or len(found) > max_traces)
