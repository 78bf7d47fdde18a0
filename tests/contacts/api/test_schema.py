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


def _schema(tmp_path) -> dict:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return yaml.safe_load(target.read_text())


def test_the_schema_states_the_contract_exactly(tmp_path, db):
    """Item 7 of issue 16, one assertion per inexactness the fuzzer found."""
    schema = _schema(tmp_path)
    components, paths = schema["components"], schema["paths"]
    assert schema["security"] == [{"partnerKey": []}]
    assert schema["servers"][0]["url"] == "/"
    output = components["schemas"]["ContactOutput"]["properties"]
    assert "format" not in output["email"] and "format" not in output["website"]
    for name, body in components["schemas"].items():
        if name.endswith("Request") and "properties" in body:
            assert body["additionalProperties"] is False, name
    for method in ("get", "post"):
        assert "404" in paths["/api/v1/contacts/{contact_id}/tasks/"][method]["responses"]
    bulk = components["schemas"]["BulkContactsInputRequest"]["properties"]["contacts"]["items"]
    assert bulk["allOf"] == [{"$ref": "#/components/schemas/ContactInputRequest"}]
    code = components["schemas"]["ErrorDetail"]["properties"]["code"]
    assert set(components["schemas"]["ErrorCodeEnum"]["enum"]) >= {"too_deep", "server_error"}
    assert code["$ref"] == "#/components/schemas/ErrorCodeEnum"
    assert {"X-Request-ID", "RateLimit-Limit", "Retry-After", "Idempotent-Replayed", "ETag"} <= set(
        components["headers"]
    )
    create = paths["/api/v1/contacts/"]["post"]["responses"]
    assert {"X-Request-ID", "RateLimit-Remaining", "Idempotent-Replayed", "ETag"} <= set(
        create["201"]["headers"]
    )
    assert "Retry-After" in create["429"]["headers"]
    patch = paths["/api/v1/contacts/{id}/"]["patch"]
    assert "If-Match" in {p["name"] for p in patch["parameters"]} and "412" in patch["responses"]
    assert {"/api/v1/workflows/", "/api/v1/courses/import"} <= set(paths)


@pytest.mark.django_db
def test_min_length_fields_refuse_an_empty_string(api):
    response = api.post("/api/v1/contacts/", {"assigned_user": ""})
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["assigned_user"]
