"""Error reports (the DEBUG page and the mails to ADMINS) never show a password in a URL.

Django's own filter hides settings and request headers whose *names* look secret (KEY, PASS,
TOKEN, ...); `REDIS_URL`, `DATABASE_URL`, a cache LOCATION or a broker URL carry their
password inside the value. This filter also masks the password part of every URL-shaped
string it cleanses — settings, request META (the environment, under runserver) and the local
variables of the traceback — and hides settings whose names say they are connection URLs. The
reporter masks what is left (an exception message quoting a URL) in the rendered report.
"""

import re
from typing import Any

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# scheme://user:password@host — the password (up to the last '@' before the host) is masked.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^\s]*@", re.I)


def mask_url_passwords(text: str) -> str:
    # str(): a lazy string (django-axes keeps some settings so) passes isinstance but not re.
    return _URL_PASSWORD.sub(
        lambda m: m["head"] + SafeExceptionReporterFilter.cleansed_substitute + "@", str(text)
    )


class PortalExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL|DSN|BROKER",
        flags=re.I,
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)  # recurses through this method
        return mask_url_passwords(cleansed) if isinstance(cleansed, str) else cleansed

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [
            (name, mask_url_passwords(value) if isinstance(value, str) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


class PortalExceptionReporter(ExceptionReporter):
    def get_traceback_html(self) -> str:
        return mask_url_passwords(super().get_traceback_html())

    def get_traceback_text(self) -> str:
        return mask_url_passwords(super().get_traceback_text())
