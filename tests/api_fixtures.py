"""Fixtures for partner API tests: keys (through the key services) and authenticated clients."""

import itertools

import pytest
from rest_framework.test import APIClient

from portal.apikeys import apikey_create
from portal.models import ApiKeyScope
from tests.factories import TEST_ACTOR

ALL_SCOPES = list(ApiKeyScope.values)
_names = itertools.count()


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def make_key(workspace):
    """make_key(scopes=..., workspaces=[...], **kw) -> (ApiKey, token)."""

    def make(scopes=None, workspaces=None, name=None, **kwargs):
        return apikey_create(
            name=name or f"partner-{next(_names)}",
            scopes=ALL_SCOPES if scopes is None else scopes,
            workspaces=workspaces or [workspace],
            actor=TEST_ACTOR,
            **kwargs,
        )

    return make


@pytest.fixture
def api_key(make_key):
    return make_key()


@pytest.fixture
def api(api_key):
    """A client holding a key with every scope for `workspace`."""
    client = client_for(api_key[1])
    client.key = api_key[0]
    return client
