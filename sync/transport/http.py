"""The one HTTP helper every connector uses (connectors never import requests).

    client = HttpClient(connection, change=None, auth=lambda: {"Authorization": "Bearer …"},
                        headers={"Version": "2021-07-28"})
    response = client.request("POST", "/contacts/", json={...}, params={...})
    response.status, response.headers, response.json()

It owns: the shared rate limiter (per remote, all processes), connect/read timeouts (≤ 30 s),
never following redirects, a DeliveryAttempt row per call (method, path, status, duration,
redacted excerpts, error), redaction of secrets (by name, and every stored credential value
wherever it appears: sync/transport/redaction.py), and the classification of failures into
`RemoteError(permanent=..., status=..., retry_after=...)`:
  - permanent: 3xx (redirects are not followed), 400, 401, 403, 404, 422 and other 4xx;
  - retryable: 408, 409, 429, 5xx, timeouts, connection errors, the local rate limit;
  - permanent too: a partner URL the SSRF guard refuses (checked and pinned at connect time,
    sync/transport/pinned_http.py).
`Retry-After` (seconds or HTTP date) pauses the shared limiter; so does
`X-RateLimit-Remaining: 0` when our own window is not full (another client uses the quota).
Sandbox connections send nothing: the call is recorded as a would-be request.
"""

import email.utils
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from portal.audit import MASK, is_secret_field
from sync.connectors import connector_class
from sync.models import Connection, DeliveryAttempt, OutboundChange
from sync.transport import attempt_log
from sync.transport.lean_session import LeanSession
from sync.transport.pinned_http import guarded_session
from sync.transport.ratelimit import Limiter, RateLimited, limiter_for, seconds_to_next_utc_day
from sync.transport.redaction import SecretMask, credential_values, header_secrets
from sync.transport.ssrf import ALLOW_PRIVATE, UnsafeURL

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30  # default of settings.SYNC_READ_TIMEOUT_SECONDS
EXCERPT_LIMIT = 2000
# X-RateLimit-Remaining: 0 pauses the limiter only while our window holds less than this share.
OTHERS_USE_QUOTA_BELOW = 0.9
RETRYABLE_4XX = frozenset({408, 409, 429})
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|signature", re.I)
_SESSION = LeanSession()
# Partner connections with the SSRF guard on: connect only to the address the guard validated.
_GUARDED_SESSION = guarded_session()


class RemoteError(Exception):
    """A failed remote call: `permanent` failures are not retried; others wait `retry_after`."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after


class NotYet(RemoteError):
    """The record needs another one pushed first (a task's contact): retried soon, and not an
    error of the connection — its health and "last error" stay as they are."""

    def __init__(self, message: str, *, retry_after: float = 10) -> None:
        super().__init__(message, permanent=False, retry_after=retry_after)


_UNPARSED = object()


@dataclass
class Response:
    """`parsed`: the body already parsed (by HttpClient.request, for its excerpt): handed over
    by the first json() call, so the body of a page of records is parsed once, not twice;
    a later call parses again, as a caller may change what it got."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    dry_run: bool = False
    parsed: Any = field(default=_UNPARSED, repr=False, compare=False)

    def json(self) -> Any:
        if self.parsed is not _UNPARSED:
            value, self.parsed = self.parsed, _UNPARSED
            return value
        try:
            return json.loads(self.text) if self.text else {}
        except ValueError as exc:
            raise RemoteError(
                f"The remote answered {self.status} with a body that is not JSON.",
                permanent=False,
                status=self.status,
            ) from exc


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with every secret-looking key masked."""
    if isinstance(value, dict):
        return {k: MASK if is_secret_field(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: MASK if _SECRET_HEADER.search(k) else v for k, v in headers.items()}


def excerpt(body: Any, mask: Callable[[str], str] = str) -> str:
    """A redacted excerpt of a body; `mask` runs before the cut, so no secret is half kept."""
    if body is None or body == "":
        return ""
    if isinstance(body, str | bytes):
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text)
        except ValueError:
            return mask(text)[:EXCERPT_LIMIT]
    text = json.dumps(_redacted_head(body, EXCERPT_BUDGET), default=str, ensure_ascii=False)
    return mask(text)[:EXCERPT_LIMIT]


def _json_container(text: str) -> Any:
    """The body's JSON object or array, else _UNPARSED (excerpt and json() treat the rest)."""
    if not text or text.lstrip()[:1] not in ("{", "["):
        return _UNPARSED
    try:
        return json.loads(text)
    except ValueError:
        return _UNPARSED


# How much of a body's JSON text an excerpt redacts: well past the cut, so that masking a few
# long credentials in it still leaves EXCERPT_LIMIT characters of the whole body's text.
EXCERPT_BUDGET = 4 * EXCERPT_LIMIT


def _redacted_head(value: Any, budget: int) -> Any:
    """redact(value) without the list items and dict entries that begin after `budget`
    characters of its JSON text: an excerpt of a 100-record page redacts a few records, not
    all of them, and its first EXCERPT_LIMIT characters are the same."""
    if isinstance(value, dict):
        head, used = {}, 0
        for key, item in value.items():
            if used > budget:
                break
            head[key] = MASK if is_secret_field(str(key)) else _redacted_head(item, budget - used)
            used += len(str(key)) + _json_length(head[key]) + 4
        return head
    if isinstance(value, list):
        kept, used = [], 0
        for item in value:
            if used > budget:
                break
            kept.append(_redacted_head(item, budget - used))
            used += _json_length(kept[-1]) + 2
        return kept
    return value


def _json_length(value: Any) -> int:
    return len(json.dumps(value, default=str, ensure_ascii=False))


def _others_use_quota(limiter: Limiter) -> bool:
    """The remote's window is used up while ours holds clearly fewer requests: someone else
    spends this location's quota, so the caller waits a whole interval. When ours is (nearly)
    full, our own sliding window already holds the next request until the oldest call leaves
    it; a pause on top would idle the connection for a further interval each time it saturates.
    ("Nearly": a request of ours may leave our window between the remote's count and ours.)"""
    return limiter.window_count() < OTHERS_USE_QUOTA_BELOW * limiter.limit


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(parsed.timestamp() - time.time(), 0.0)


class HttpClient:
    def __init__(
        self,
        connection: Connection,
        *,
        change: OutboundChange | None = None,
        auth: Callable[[], dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.connection = connection
        self.change = change
        self.auth = auth
        self.headers = dict(headers or {})
        self.mask = SecretMask(())  # set per request, from the credentials it may carry

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        rate_limited: bool = True,
    ) -> Response:
        attempt_log.save_held()  # the row held for the call before goes first
        auth_headers = self.auth() if self.auth else {}
        sent_headers = {**self.headers, **(headers or {}), **auth_headers}
        self.mask = SecretMask(
            credential_values(self.connection.credentials) + header_secrets(auth_headers)
        )
        summary = {"params": dict(params or {}), "headers": redact_headers(sent_headers)}
        body = json if json is not None else data
        request_excerpt = excerpt({**summary, "body": body}, self.mask)
        if self.connection.dry_run:
            self._record(method, path, None, 0, DeliveryAttempt.Outcome.DRY_RUN, request_excerpt)
            return Response(status=0, dry_run=True)
        limiter = limiter_for(self.connection) if rate_limited else None
        if limiter is not None:
            self._acquire(limiter, method, path, request_excerpt)
        started = time.monotonic()
        try:
            url = self._target(path)
            raw = self._session().request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=sent_headers,
                timeout=(CONNECT_TIMEOUT, settings.SYNC_READ_TIMEOUT_SECONDS),
                allow_redirects=False,
            )
        except UnsafeURL as exc:
            # DNS may change after save: a now-unsafe target is refused, not retried blindly.
            error = RemoteError(f"Refused by the SSRF guard: {exc}", permanent=True)
            self._record(method, path, None, _ms(started), "permanent", request_excerpt, "", error)
            raise error from exc
        except requests.RequestException as exc:
            duration = _ms(started)
            error = RemoteError(self.mask(f"{type(exc).__name__}: {exc}")[:500], permanent=False)
            self._record(method, path, None, duration, "retryable", request_excerpt, "", error)
            raise error from exc
        finally:
            if limiter is not None:
                limiter.settle()
        parsed = _json_container(raw.text)
        response = Response(raw.status_code, raw.headers, raw.text, parsed=parsed)
        self._honour_limits(response, limiter or limiter_for(self.connection))
        # The error quotes the body: masked before its cut (the caller still gets the raw text).
        error = classify(Response(raw.status_code, raw.headers, self.mask(raw.text)))
        outcome = "ok" if error is None else "permanent" if error.permanent else "retryable"
        self._record(
            method,
            path,
            raw.status_code,
            _ms(started),
            outcome,
            request_excerpt,
            excerpt(raw.text if parsed is _UNPARSED else parsed, self.mask),
            error,
        )
        if error is not None:
            raise error
        return response

    def _target(self, path: str) -> str:
        """The URL to call, if the credentials may go there: the provider's policy on the base
        URL (the CRM: its own API host), and a path that cannot leave the base URL's host
        (a configured path "@evil.example/x" would otherwise change it). Else UnsafeURL."""
        base_url = self.connection.base_url
        connector_class(self.connection.provider).check_base_url(
            base_url, dry_run=self.connection.dry_run
        )
        url = base_url.rstrip("/") + path
        if urlsplit(url).netloc != urlsplit(base_url).netloc:
            raise UnsafeURL(f"The path {path!r} would leave the connection's host.")
        return url

    def _session(self) -> LeanSession:
        """Pinned and guarded for partner URLs, unless the operator allowed private networks."""
        guarded = getattr(connector_class(self.connection.provider), "guards_urls", False)
        allowed = bool((self.connection.options or {}).get(ALLOW_PRIVATE))
        return _GUARDED_SESSION if guarded and not allowed else _SESSION

    def _acquire(self, limiter: Limiter, method: str, path: str, request_excerpt: str) -> None:
        try:
            limiter.acquire()
        except RateLimited as exc:
            error = RemoteError(str(exc), permanent=False, retry_after=exc.retry_after)
            self._record(method, path, None, 0, "retryable", request_excerpt, "", error)
            raise error from exc

    def _honour_limits(self, response: Response, limiter: Limiter) -> None:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status == 429:
            limiter.pause(retry_after or float(self.connection.rate_limit_interval_seconds))
        elif response.headers.get("X-RateLimit-Daily-Remaining") == "0":
            limiter.pause(seconds_to_next_utc_day(time.time()))
        elif response.headers.get("X-RateLimit-Remaining") == "0" and _others_use_quota(limiter):
            interval_ms = response.headers.get("X-RateLimit-Interval-Milliseconds")
            limiter.pause(float(interval_ms) / 1000 if interval_ms else retry_after or 1.0)

    def _record(self, *args: Any, **kwargs: Any) -> DeliveryAttempt:
        """The attempt's row (`_attempt`), saved (or held for the caller's outcome:
        sync/transport/attempt_log.py); a connection being added is tested before it exists,
        so then no row can point at it and it is only built."""
        attempt = self._attempt(*args, **kwargs)
        if self.connection.pk:
            attempt_log.record(attempt)
        return attempt

    def _attempt(
        self,
        method: str,
        path: str,
        status: int | None,
        duration_ms: int,
        outcome: str,
        request_excerpt: str,
        response_excerpt: str = "",
        error: RemoteError | None = None,
    ) -> DeliveryAttempt:
        """The attempt's row, unsaved; every credential value is masked in what it keeps, and
        in the error the caller will raise (it reaches outbox rows, the connection and logs)."""
        if error is not None:
            error.message = self.mask(error.message)
            error.args = (error.message,)
        return DeliveryAttempt(
            connection=self.connection,
            change=self.change,
            method=method,
            path=self.mask(path)[:500],
            status_code=status,
            duration_ms=duration_ms,
            outcome=outcome,
            request_excerpt=self.mask(request_excerpt),
            response_excerpt=self.mask(response_excerpt),
            error=error.message if error else "",
        )


def classify(response: Response) -> RemoteError | None:
    """None for success; otherwise the error, permanent or retryable."""
    status = response.status
    if 200 <= status < 300:
        return None
    reason = _reason(response)
    if 300 <= status < 400:
        return RemoteError(
            f"HTTP {status}: redirects are not followed.", permanent=True, status=status
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    return RemoteError(
        f"HTTP {status}: {reason}", permanent=permanent, status=status, retry_after=retry_after
    )


def _reason(response: Response) -> str:
    try:
        body = json.loads(response.text)
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body
        return str(redact(message))[:300]
    return str(redact(body))[:300]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
