"""Row 11 of issue 15: a password inside REDIS_URL (or any URL) was shown in error reports."""

import sys

from django.conf import settings
from django.test import RequestFactory, override_settings
from django.utils.module_loading import import_string

PASSWORD = "hunter2-Sup3r"
REDIS = f"redis://:{PASSWORD}@redis.internal:6379/0"
DATABASE = f"postgres://portal:{PASSWORD}@db.internal:5432/portal"


def _report(request) -> tuple[str, str]:
    broker_url = f"amqp://worker:{PASSWORD}@mq.internal/"  # a local variable of the frame
    try:
        raise RuntimeError(f"cannot reach {broker_url}")
    except RuntimeError:
        reporter_class = import_string(settings.DEFAULT_EXCEPTION_REPORTER)
        reporter = reporter_class(request, *sys.exc_info())
    return reporter.get_traceback_html(), reporter.get_traceback_text()


@override_settings(
    DEBUG=True,
    REDIS_URL=REDIS,
    DATABASE_URL=DATABASE,
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS}
    },
    Q_CLUSTER={"name": "portal", "redis": REDIS},
    SOME_PARTNER_ENDPOINT=f"https://user:{PASSWORD}@partner.example/hooks",
)
def test_error_reports_mask_passwords_in_urls_everywhere():
    request = RequestFactory().get("/boom", HTTP_X_UPSTREAM=DATABASE)
    request.META["DATABASE_URL"] = DATABASE  # runserver puts the environment into META
    html, text = _report(request)
    for report in (html, text):
        assert PASSWORD not in report
        assert "redis.internal" in report  # the rest of the URL stays readable
    assert "https://user:********************@partner.example/hooks" in text


def test_the_filter_and_reporter_are_configured():
    assert settings.DEFAULT_EXCEPTION_REPORTER_FILTER == (
        "portal.error_reports.PortalExceptionReporterFilter"
    )
    assert settings.DEFAULT_EXCEPTION_REPORTER == "portal.error_reports.PortalExceptionReporter"
