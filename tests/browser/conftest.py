"""Browser tests: pytest-playwright driving Debian's chromium against pytest-django's live server.

No browser download: chromium comes from apt (/usr/bin/chromium; .ci/run installs it).
Playwright's sync API runs an event loop in the test thread, so Django's async-safety check
must be told that the ORM calls made by the test itself are fine.
"""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-test-password"


@pytest.fixture(scope="package", autouse=True)
def _allow_orm_beside_playwright():
    # Set for this package only (before any database fixture, unset after its last test): a
    # leaked variable would reach other tests' subprocesses, and `check --deploy` refuses it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


# pytest-playwright keeps Playwright (and its event loop) running for the whole session; then
# every later transactional test would meet "an async context". Here it lives for this package.
@pytest.fixture(scope="package")
def playwright(_allow_orm_beside_playwright):
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    return lambda **kwargs: browser_type.launch(**{**browser_type_launch_args, **kwargs})


@pytest.fixture(scope="package")
def browser(launch_browser):
    running = launch_browser()
    yield running
    running.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"],
    }  # fmt: skip


@pytest.fixture(scope="package")
def browser_context_args():
    return {"viewport": {"width": 1280, "height": 900}, "accept_downloads": True}


# Chromium logs every Content-Security-Policy violation to the console; the event listener
# (installed before the page's own scripts) also catches the last page's, read at the end.
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


@pytest.fixture(autouse=True)
def no_csp_violations(request):
    """Every browser test also proves the pages work under the Content-Security-Policy."""
    if "page" not in request.fixturenames:
        yield []
        return
    page = request.getfixturevalue("page")
    found: list[str] = []
    page.add_init_script(_WATCH_CSP)
    page.on("console", lambda message: _note_console(message, found))
    yield found
    found.extend(page.evaluate("window.__cspViolations || []"))
    assert not found, f"Content-Security-Policy violations: {found}"


def _note_console(message, found: list[str]) -> None:
    if "Content Security Policy" in message.text:
        found.append(message.text)


@pytest.fixture
def operator(transactional_db):
    return get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)


@pytest.fixture
def logged_in(page, live_server, operator):
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#console-links")
    return page


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
