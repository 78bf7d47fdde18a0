"""GET /api/v1/workflows/ and POST /api/v1/courses/import: the CRM behind the partner API,
every CRM request checked against tests/specs/highlevel/apps/{workflows,courses}.json."""

import json

import pytest

from sync.engine.push import drain
from sync.models import ChangeStatus, DeliveryAttempt, OutboundChange
from sync.objects import COURSES_IMPORT
from tests.api_fixtures import client_for
from tests.factories import WorkspaceFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
WORKFLOWS = "/api/v1/workflows/"
IMPORT = "/api/v1/courses/import"
EXPORT = {
    "products": [
        {
            "title": "Onboarding",
            "description": "First steps",
            "categories": [
                {
                    "title": "Week 1",
                    "visibility": "published",
                    "posts": [
                        {
                            "title": "Welcome",
                            "visibility": "draft",
                            "contentType": "video",
                            "description": "",
                            "postMaterials": [{"title": "Slides", "type": "pdf", "url": "x"}],
                        }
                    ],
                }
            ],
            "instructorDetails": {"name": "Ann", "description": "Coach"},
        }
    ]
}
CRM_WORKFLOW = {
    "id": "78559bb3",
    "name": "First Workflow",
    "status": "draft",
    "version": 2,
    "createdAt": "2021-05-26T11:33:49.000Z",
    "updatedAt": "2021-05-27T11:33:49.000Z",
    "locationId": "ve9EPM428h8vShlRW1KT",
}


def test_workflows_come_from_the_crm_once_then_from_the_cache(api, crm, conn):
    crm.get(CRM + "/workflows/", json={"workflows": [CRM_WORKFLOW]})
    first = api.get(WORKFLOWS)
    assert first.status_code == 200, first.content
    assert first.json() == {
        "results": [
            {
                "id": "78559bb3",
                "name": "First Workflow",
                "status": "draft",
                "version": 2,
                "created_at": "2021-05-26T11:33:49.000Z",
                "updated_at": "2021-05-27T11:33:49.000Z",
            }
        ]
    }
    assert api.get(WORKFLOWS).json() == first.json()
    assert len(crm.calls) == 1
    assert crm.calls[0].request.params == {"locationId": conn.location_id}


def test_workflows_need_their_scope_and_a_crm_connection(make_key, crm, workspace):
    _key, token = make_key(scopes=["contacts.write"])
    response = client_for(token).get(WORKFLOWS)
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"required_scope": "workflows.readonly"}
    _key, token = make_key(scopes=["workflows.readonly"])
    assert client_for(token).get(WORKFLOWS).status_code == 404  # no CRM connection yet
    assert not crm.calls


def test_a_crm_failure_is_502_in_the_error_shape(api, crm, conn):
    crm.get(CRM + "/workflows/", json={"message": "down"}, status=503)
    response = api.get(WORKFLOWS)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "crm_unavailable"


def test_a_courses_import_goes_through_the_outbox_and_its_status_is_readable(api, crm, conn):
    crm.post(CRM + "/courses/courses-exporter/public/import", json={}, status=201)
    response = api.post(IMPORT, EXPORT, format="json")
    assert response.status_code == 202, response.content
    queued = response.json()
    assert queued["status"] == "pending" and queued["id"].startswith("ci_")
    change = OutboundChange.objects.get(object_type=COURSES_IMPORT)
    assert change.connection == conn and not crm.calls
    drain()
    sent = json.loads(crm.calls[0].request.body)
    assert sent == {"locationId": conn.location_id, **EXPORT}
    status = api.get(f"{IMPORT}/{queued['id']}").json()
    assert (status["status"], status["attempts"]) == ("done", 1)
    assert status["completed_at"]
    assert DeliveryAttempt.objects.filter(change=change, status_code=201).exists()


def test_a_refused_import_reads_failed_with_the_crm_error(api, crm, conn):
    crm.post(CRM + "/courses/courses-exporter/public/import", json={"message": "bad"}, status=422)
    queued = api.post(IMPORT, EXPORT, format="json").json()
    drain()
    status = api.get(f"{IMPORT}/{queued['id']}").json()
    assert status["status"] == ChangeStatus.FAILED
    assert "422" in status["last_error"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"products": []},
        {"products": [{"title": "T", "description": "", "categories": [], "colour": 1}]},
        {"products": [{"title": "T", "description": "", "categories": [{"title": "C"}]}]},
        {"products": [{"title": "", "description": "", "categories": []}]},
        {"locationId": "someone-elses", **EXPORT},
    ],
)
def test_a_malformed_export_is_400_and_nothing_is_queued(api, conn, body):
    response = api.post(IMPORT, body, format="json")
    assert response.status_code == 400, response.content
    assert not OutboundChange.objects.filter(object_type=COURSES_IMPORT).exists()


def test_imports_need_courses_write_and_stay_in_their_workspace(make_key, conn, crm):
    _key, token = make_key(scopes=["workflows.readonly"])
    refused = client_for(token).post(IMPORT, EXPORT, format="json")
    assert refused.json()["error"]["details"] == {"required_scope": "courses.write"}
    _key, token = make_key(scopes=["courses.write"])
    queued = client_for(token).post(IMPORT, EXPORT, format="json").json()
    other = WorkspaceFactory()
    ConnectionFactory(workspace=other)
    _key, stranger = make_key(scopes=["courses.write"], workspaces=[other])
    assert client_for(stranger).get(f"{IMPORT}/{queued['id']}").status_code == 404
    assert client_for(token).get(f"{IMPORT}/ci_1.forged").status_code == 404
    assert client_for(token).get(f"{IMPORT}/{queued['id']}").status_code == 200
