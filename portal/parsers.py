"""The API's only parser: JSON, with the 1 MB cap enforced on the stream itself.

Django applies DATA_UPLOAD_MAX_MEMORY_SIZE only to `request.body`; DRF reads the stream, so the
cap is checked here, before and while reading (a lying or missing Content-Length is caught too).
"""

import io

from django.conf import settings
from rest_framework.parsers import JSONParser

from portal.api_errors import PayloadTooLarge


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge()
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge()
        return super().parse(io.BytesIO(body), media_type, parser_context)
