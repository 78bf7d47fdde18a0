"""Validate requests sent to the CRM against its OpenAPI files (tests/specs/highlevel/).

Reusable by every test that talks to the CRM:

    def test_x(crm):                 # fixture from tests/sync/conftest.py (a RequestsMock)
        crm.post(CRM + "/contacts/", json={...})
        ...                          # at teardown every captured request is validated:
                                     # path, query, headers (Version, Authorization) and body

or call `assert_valid_crm_request(prepared_request)` yourself.
"""

from functools import cache
from urllib.parse import urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.templating.paths.exceptions import PathNotFound, ServerNotFound

from tests.specs import HIGHLEVEL_SPECS

SPEC_DIR = HIGHLEVEL_SPECS
# The OAuth token endpoint is not part of the published API files; tests check it themselves.
NOT_IN_SPEC = ("/oauth/token",)


@cache
def crm_specs() -> tuple[OpenAPI, ...]:
    if not (SPEC_DIR / "apps").is_dir():
        raise FileNotFoundError(f"CRM OpenAPI files not found in {SPEC_DIR}")
    # The published files are not strictly valid OpenAPI (e.g. an http security scheme with
    # "in"/"name"), so the document check is skipped; requests are still fully validated.
    config = Config(spec_validator_cls=None)
    files = sorted((SPEC_DIR / "apps").glob("*.json"))
    return tuple(OpenAPI.from_file_path(str(p), config=config) for p in files)


def assert_valid_crm_request(prepared) -> None:
    """Raise if the request matches no CRM operation or breaks its contract."""
    if urlsplit(prepared.url).path in NOT_IN_SPEC:
        return
    request = RequestsOpenAPIRequest(prepared)
    for spec in crm_specs():
        try:
            spec.validate_request(request)
        except (PathNotFound, ServerNotFound):
            continue
        return
    raise AssertionError(f"{prepared.method} {prepared.url} matches no CRM operation")
