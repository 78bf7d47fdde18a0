"""gunicorn's access log without the static files and the favicon (`serve` uses it): a page
view is one line, not one per stylesheet, script and icon."""

from gunicorn.glogging import Logger

QUIET_PREFIXES = ("/static/", "/favicon.ico")


class QuietStaticLogger(Logger):
    def access(self, resp, req, environ, request_time) -> None:
        if environ.get("PATH_INFO", "").startswith(QUIET_PREFIXES):
            return
        super().access(resp, req, environ, request_time)
