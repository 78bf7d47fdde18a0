"""The OpenAPI schema: generated without warnings, valid, served with an offline Swagger UI."""

import pytest
import yaml
from django.core.management import call_command


def test_schema_generates_and_validates_with_warnings_as_errors(tmp_path, db):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    scheme = schema["components"]["securitySchemes"]["partnerKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    paths = schema["paths"]
    assert {
        "/api/v1/users/",
        "/api/v1/contacts/{id}/",
        "/api/v1/contacts/bulk/",
        "/api/v1/contacts/{contact_id}/notes/",
        "/api/v1/appointments/{id}/",
    } <= set(paths)
    create = paths["/api/v1/contacts/"]["post"]
    assert "Required scope: `contacts.write`" in create["description"]
    assert {"400", "401", "403", "409", "413", "415", "422", "429"} <= set(create["responses"])
    headers = {p["name"] for p in create["parameters"] if p["in"] == "header"}
    assert headers == {"Idempotency-Key", "X-Workspace"}


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_key(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in page
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page
