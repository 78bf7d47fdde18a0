"""Run the web app (gunicorn) and the worker (qcluster) together in the foreground.

Ctrl-C (or SIGTERM) stops both; if either exits, the other is stopped too, so a crash is
never hidden behind a half-running portal. The children run in their own session, so the
terminal's Ctrl-C reaches only this process, which then stops them gracefully (SIGTERM):
gunicorn's workers finish their requests instead of being killed mid-way.
"""

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the portal: gunicorn web workers and a django-q2 cluster, in the foreground."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", 2))
        )

    def handle(self, *args, port: int, host: str, web_workers: int, **options) -> None:
        web = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--logger-class",
                "portal.gunicorn_logging.QuietStaticLogger",
                "--graceful-timeout",
                "10",
            ],
            start_new_session=True,
        )
        worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"], start_new_session=True)
        self.stdout.write(
            self.style.SUCCESS(f"Portal on http://{host}:{port}/admin/ — Ctrl-C stops it.")
        )
        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and web.poll() is None and worker.poll() is None:
            time.sleep(0.2)
        exit_code = self._stop_all(web, worker)
        if not stopping:
            sys.exit(exit_code or 1)

    def _stop_all(self, *processes: subprocess.Popen) -> int:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        return max(process.returncode or 0 for process in processes)
