from tests.api_fixtures import api, api_key, make_key  # noqa: F401
