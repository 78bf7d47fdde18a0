"""`Idempotency-Key` for POSTs: the first response is stored per (API key, workspace, key).

The same key with the same request replays that response; with another request it is 409.
The claim is a row insert guarded by a unique constraint, so of two identical requests at the
same moment exactly one runs; the other gets 409 (in progress) and may retry for the replay.
A claim whose request died (no response after IN_PROGRESS_TIMEOUT) can be taken over.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api_errors import Conflict
from portal.models import ApiKey, IdempotencyRecord, Workspace

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
_VALID_KEY = re.compile(rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$")
IN_PROGRESS_TIMEOUT = datetime.timedelta(minutes=2)
State = IdempotencyRecord.State


class IdempotencyKeyReused(Conflict):
    default_detail = "This Idempotency-Key was used with a different request."
    default_code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    default_detail = "A request with this Idempotency-Key is still in progress; retry later."
    default_code = "idempotency_in_progress"


def fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(request: Request, workspace: Workspace, produce: Callable[[], Response]) -> Response:
    """Run `produce` once per Idempotency-Key in `workspace` (the one the request writes in);
    replay its response for the same request."""
    idem_key = request.headers.get(HEADER, "").strip()
    if not idem_key or not isinstance(request.auth, ApiKey):
        return produce()
    if not _VALID_KEY.match(idem_key):
        raise ValidationError({HEADER: [f"1 to {MAX_KEY_LENGTH} visible ASCII characters."]})
    record, stored = _claim(request.auth, workspace, idem_key, fingerprint(request))
    if stored is not None:
        return stored
    try:
        response = produce()
    except BaseException:
        record.delete()  # nothing was stored: the client may retry with the same key
        raise
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=State.DONE, status_code=response.status_code, response_body=response.data
    )
    return response


def _claim(
    api_key: ApiKey, workspace: Workspace, idem_key: str, print_: str
) -> tuple[IdempotencyRecord, Response | None]:
    now = timezone.now()
    ttl = datetime.timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    # Expired records of this API key go now (also keeps the table from growing without end).
    IdempotencyRecord.objects.filter(api_key=api_key, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                api_key=api_key,
                workspace=workspace,
                key=idem_key,
                fingerprint=print_,
                created_at=now,
                expires_at=now + ttl,
            )
        return record, None
    except IntegrityError:
        pass
    existing = IdempotencyRecord.objects.get(api_key=api_key, workspace=workspace, key=idem_key)
    if existing.fingerprint != print_:
        raise IdempotencyKeyReused()
    if existing.state == State.DONE:
        replay = Response(existing.response_body, status=existing.status_code)
        replay["Idempotent-Replayed"] = "true"
        return existing, replay
    abandoned = IdempotencyRecord.objects.filter(
        pk=existing.pk, state=State.IN_PROGRESS, created_at__lt=now - IN_PROGRESS_TIMEOUT
    ).update(created_at=now)
    if abandoned:
        return existing, None
    raise IdempotencyInProgress()
