"""Masking a connection's stored credential values wherever they appear in text we keep.

Name-based redaction (`sync.transport.http.redact`) masks keys and headers that look secret; a
partner key sent in a header named `X-Shop` or echoed in an error body slips past it. A `SecretMask`
knows the values themselves — every string in the connection's decrypted credentials and the
auth headers of the request — and replaces each occurrence, also in its JSON-escaped and
URL-encoded forms, in request/response excerpts, error messages and log lines.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from portal.audit import MASK

# Shorter strings (a region, a flag) are not secrets and would mask ordinary text.
MIN_SECRET_LENGTH = 8


def credential_values(credentials: Any) -> list[str]:
    """Every string inside a credentials value (dicts and lists walked)."""
    if isinstance(credentials, str):
        return [credentials]
    if isinstance(credentials, Mapping):
        return [v for item in credentials.values() for v in credential_values(item)]
    if isinstance(credentials, list | tuple):
        return [v for item in credentials for v in credential_values(item)]
    return []


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The credential in an auth header value: the whole value and its last word
    ("Bearer <token>", "Basic <base64>", "ApiKey <key>")."""
    return [part for value in headers.values() for part in {value, value.split(" ")[-1]}]


class SecretMask:
    def __init__(self, values: Iterable[str]) -> None:
        forms = set()
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                forms |= {value, json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)}
        # Longest first, so a secret containing another is masked whole.
        self.forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text
