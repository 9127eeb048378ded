"""HTTP GET of JSON, with one error that says which URL failed and what came back."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Optional

USER_AGENT = "mesh-tracing-doctor"


class CheckError(RuntimeError):
    """A check that could not be made: an unreachable URL, or an answer that is not what the
    API gives. The message names the URL and what came back."""


def with_query(url: str, params: Mapping[str, Any]) -> str:
    pairs = [(key, str(value)) for key, value in params.items() if value is not None]
    return f"{url}?{urllib.parse.urlencode(pairs)}" if pairs else url


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return repr(text[:160] + ("..." if len(text) > 160 else ""))


def get(url: str, timeout: float, headers: Optional[Mapping[str, str]] = None) -> tuple[int, bytes]:
    """Status and body of a GET; HTTP error statuses are returned, not raised."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read() or b""
    except urllib.error.URLError as error:
        reason = getattr(error.reason, "strerror", None) or str(error.reason)
        raise CheckError(f"{url}: could not connect ({reason})") from None
    except TimeoutError:
        raise CheckError(f"{url}: no answer within {timeout:g} s") from None
    except (OSError, ValueError) as error:
        raise CheckError(f"{url}: could not be fetched ({error})") from None


def get_json(
    url: str, timeout: float, *, expected: str, not_found_ok: bool = False
) -> Optional[Any]:
    """The JSON body of a GET, or CheckError naming the URL, the status and the body's start.

    `expected` says what the URL should have answered, for the message. With `not_found_ok`, a
    404 gives None (Jaeger answers 404 for a trace it does not have)."""
    status, body = get(url, timeout, {"Accept": "application/json"})
    if status == 404 and not_found_ok:
        return None
    if status != 200:
        raise CheckError(f"{url}: HTTP {status} instead of {expected}: {_excerpt(body)}")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckError(
            f"{url}: answered HTTP 200 but not with JSON ({expected} expected): {_excerpt(body)}"
        ) from None
