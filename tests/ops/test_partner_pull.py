"""Partner pull (issue 14, item 4): a REST connection lists its partner's records into the mirror.

The stand-in partner (sandbox/standins/partner.py) and the sandbox CRM run in-process over real
HTTP; records come in through backfill / `fetch_page` and the one inbound path (ops.ingest),
and go on to the CRM through the outbox.
"""

import json
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from contacts.models import Contact, CrmUser
from contacts.services import contact_create, contact_update
from ops.ingest import Ingestor
from ops.reconcile import Reconciler
from portal.actors import Actor
from portal.models import AuditEntry
from sandbox.standins.partner import MAPPINGS, PartnerStandIn, connection_options
from sync.admin import rest_option_errors
from sync.connectors import connector_for
from sync.engine.push import drain
from sync.models import DeliveryAttempt, FieldMapping, Link, OutboundChange
from tests.factories import TEST_ACTOR
from tests.sync.connectors.conftest import dns  # noqa: F401 (partner host names resolve)
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
API_KEY = "partner-key"
OLD_PHONE, NEW_PHONE = "+15550100001", "+15550100002"


@pytest.fixture
def partner(settings):
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]  # a stand-in on loopback, allowed explicitly
    standin = PartnerStandIn(API_KEY).start()
    yield standin
    standin.stop()


@pytest.fixture
def partner_conn(partner, workspace):
    conn = ConnectionFactory(
        workspace=workspace, provider="rest", name="Partner", slug="partner",
        base_url=partner.base_url, credentials={"api_key": API_KEY},
        options=connection_options(page_size=2), contacts_direction="both", users_direction="off",
        tasks_direction="off", notes_direction="off", appointments_direction="off",
        rate_limit_requests=1_000_000, rate_limit_interval_seconds=1,
    )  # fmt: skip
    for position, row in enumerate(MAPPINGS):
        FieldMapping.objects.create(
            connection=conn, object_type="contact", position=position, **row
        )
    return conn


def backfill(*args: str) -> str:
    out = StringIO()
    call_command("backfill", *args, stdout=out)
    return out.getvalue()


def poll(conn, since: str | None = None):
    """One incremental fetch of every page, applied as a poll would (the one inbound path)."""
    connector = connector_for(conn)
    ingestor = Ingestor(conn, Actor.connection(conn, source="poll"))
    cursor, tallies = {"updatedSince": since} if since else None, []
    while True:
        page = connector.fetch_page("contact", cursor)
        tallies.append(ingestor.apply("contact", page.items))
        if page.next_cursor is None:
            return tallies
        cursor = page.next_cursor


def pulled(partner, conn) -> Contact:
    """A contact made at the partner, backfilled into the mirror."""
    record = partner.add(firstName="Ada", email="ada@example.com", phone=OLD_PHONE, city="Oldtown")
    assert "created 1" in backfill("partner")
    assert Link.objects.get(connection=conn).remote_id == record["id"]
    return Contact.objects.get()


# --- a contact added at the partner reaches the mirror and the CRM --------------------------


def test_contacts_added_at_the_partner_reach_the_mirror_and_the_crm(
    partner, partner_conn, crm, conn
):
    for n in range(5):
        partner.add(firstName=f"P{n}", lastName="Pull", email=f"p{n}@example.com", city="Lisbon")
    out = backfill("partner", "--propagate")
    assert "created 5, updated 0, unchanged 0, failed 0 (3 page(s))" in out
    assert set(Contact.objects.values_list("city", flat=True)) == {"Lisbon"}
    links = Link.objects.filter(connection=partner_conn)
    assert set(links.values_list("remote_id", flat=True)) == set(partner.contacts)
    listing = DeliveryAttempt.objects.filter(connection=partner_conn, path="/api/contacts")
    assert listing.count() == 3  # a cursor per page of 2, through the connection's HTTP client
    assert drain()["left"] == 0
    at_crm = {c["email"]: c for c in crm.list("contact")}
    assert set(at_crm) == {f"p{n}@example.com" for n in range(5)}
    assert {c["city"] for c in at_crm.values()} == {"Lisbon"}
    assert not OutboundChange.objects.filter(connection=partner_conn).exists()


def test_fetch_page_lists_incrementally_oldest_first(partner, partner_conn):
    partner.add(firstName="Old", email="old@example.com")
    middle = partner.add(firstName="Middle", email="middle@example.com")
    partner.add(firstName="New", email="new@example.com")
    connector = connector_for(partner_conn)
    assert connector.listable_types == connector.incremental_types == frozenset({"contact"})
    page = connector.fetch_page("contact", {"updatedSince": middle["updatedAt"]})
    assert [i["firstName"] for i in page.items] == ["Middle", "New"] and page.next_cursor is None
    assert connector.remote_id("contact", page.items[0]) == middle["id"]
    assert connector.remote_updated_at("contact", page.items[0]).isoformat(
        timespec="milliseconds"
    ) == middle["updatedAt"].replace("Z", "+00:00")
    assert connector.fetch_record("contact", middle["id"])["email"] == "middle@example.com"
    assert connector.fetch_record("contact", "p404") is None  # gone at the partner


def test_paging_by_updated_since_alone_ends_when_time_stops_advancing(partner, partner_conn):
    options = connection_options(page_size=2)
    listing = options["objects"]["contact"]["list"]
    del listing["cursor_param"], listing["next_cursor_path"]
    partner_conn.options = options
    partner_conn.save()
    for n in range(5):
        partner.add(firstName=f"P{n}", email=f"p{n}@example.com")
    tallies = poll(partner_conn)
    assert Contact.objects.count() == 5
    assert sum(t.created for t in tallies) == 5 and sum(t.failed for t in tallies) == 0


def test_backfill_refuses_types_the_connection_cannot_list(partner_conn):
    with pytest.raises(CommandError, match=r"cannot list tasks \(it lists: contacts"):
        backfill("partner", "--objects", "contacts,tasks")


# --- echo: a change made in the portal is not pulled back as a change -----------------------


def test_a_portal_change_reaches_the_partner_and_is_not_pulled_back(partner, partner_conn):
    contact = pulled(partner, partner_conn)
    contact_update(contact, actor=TEST_ACTOR, data={"city": "Porto"})
    made_here = contact_create(
        workspace=partner_conn.workspace, actor=TEST_ACTOR,
        data={"first_name": "Grace", "email": "grace@example.com", "city": "Arlington"},
    )  # fmt: skip
    assert drain()["left"] == 0
    by_email = {r["email"]: r for r in partner.contacts.values()}
    assert by_email["ada@example.com"]["city"] == "Porto"
    assert by_email["grace@example.com"]["city"] == "Arlington"
    patch = [r for r in DeliveryAttempt.objects.filter(method="PATCH")]
    assert (
        len(patch) == 1
        and '"city"' in patch[0].request_excerpt
        and "Ada" not in (patch[0].request_excerpt)
    )  # only what changed here
    pushes, audits = OutboundChange.objects.count(), AuditEntry.objects.count()
    versions = dict(Contact.objects.values_list("pk", "version"))

    tallies = poll(partner_conn)

    assert (
        sum(t.unchanged for t in tallies) == 2 and sum(t.updated + t.created for t in tallies) == 0
    )
    assert OutboundChange.objects.count() == pushes and AuditEntry.objects.count() == audits
    assert dict(Contact.objects.values_list("pk", "version")) == versions
    assert Contact.objects.count() == 2 and made_here.pk in versions


# --- concurrent edits of different fields, pulled ---------------------------------------


@pytest.mark.parametrize("order", ["pull first", "push first"])
def test_phone_changed_at_the_partner_and_city_here_both_survive(partner, partner_conn, order):
    contact = pulled(partner, partner_conn)
    remote_id = Link.objects.get(connection=partner_conn).remote_id
    partner.change(remote_id, phone=NEW_PHONE)  # a user at the partner
    contact_update(contact, actor=TEST_ACTOR, data={"city": "Newcity"})  # an operator here
    if order == "pull first":
        poll(partner_conn)
        drain()
    else:
        drain()
        poll(partner_conn)
    contact.refresh_from_db()
    assert (contact.phone, contact.city) == (NEW_PHONE, "Newcity")
    assert (partner.contacts[remote_id]["phone"], partner.contacts[remote_id]["city"]) == (
        NEW_PHONE,
        "Newcity",
    )


# --- permissions apply to pulled records as to webhooks -------------------------------------

SHOP = "https://shop.example"


@pytest.fixture
def user_source(workspace, dns):  # noqa: F811
    options = {"auth": {"type": "bearer"}, "objects": {"user": {"list": {
        "path": "/staff", "cursor_param": "page", "next_cursor_path": "next",
        "items_path": "staff", "id_path": "uid",
    }}}}  # fmt: skip
    conn = ConnectionFactory(
        workspace=workspace, provider="rest", name="Staff", slug="staff", base_url=SHOP,
        credentials={"token": "t"}, options=options, users_direction="both",
        contacts_direction="off", tasks_direction="off", notes_direction="off",
        appointments_direction="off",
        inbound_permissions={"user": {"operations": ["create", "update"], "fields": "*"}},
    )  # fmt: skip
    for position, (field, path) in enumerate(
        [("first_name", "name"), ("email", "mail"), ("role", "role")]
    ):
        FieldMapping.objects.create(
            connection=conn, object_type="user", mirror_field=field, remote_path=path,
            position=position,
        )  # fmt: skip
    return conn


@pytest.mark.parametrize("granted", [False, True])
@responses.activate
def test_a_pulled_admin_is_refused_unless_the_connection_is_granted(user_source, granted):
    user_source.may_write_privileged_user_fields = granted
    user_source.save()
    staff = [
        {"uid": 7, "name": "Eve", "mail": "eve@example.com", "role": "admin"},
        {"uid": 8, "name": "Bob", "mail": "bob@example.com", "role": "user"},
    ]
    responses.get(SHOP + "/staff", json={"staff": staff, "next": None})
    out = backfill("staff", "--objects", "users")
    if granted:
        assert "created 2" in out and CrmUser.objects.get(email="eve@example.com").role == "admin"
        return
    assert "created 1, updated 0, unchanged 0, failed 1" in out
    assert "user 7: refused: privileged user fields (role) need an explicit grant" in out
    assert list(CrmUser.objects.values_list("email", flat=True)) == ["bob@example.com"]


def test_a_webhook_and_a_pull_are_refused_alike_when_direction_is_out(partner, partner_conn):
    partner_conn.contacts_direction = "out"
    partner_conn.save()
    partner.add(firstName="Ada", email="ada@example.com")
    (tally,) = poll(partner_conn)
    assert tally.failed == 1 and "contacts direction is 'out'" in tally.errors[0]
    assert not Contact.objects.exists()


# --- configuration is validated when saved --------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cursor_param": "cursor", "next_cursor_path": ""}, "cursor_param needs next_cursor_path"),
        ({"cursor_param": "", "updated_since_param": ""}, "give cursor_param"),
        ({"cursor_param": "", "updated_at_path": ""}, "needs updated_at_path"),
        ({"path": "api/contacts"}, "the path must start with '/'"),
        ({"items_path": 3}, "items_path must be text"),
    ],
)
def test_list_config_errors_are_clear(change, message):
    options = connection_options()
    options["objects"]["contact"]["list"].update(change)
    (error,) = rest_option_errors(options)
    assert error.startswith("contact.list: ") and message in error


def test_reads_and_webhook_formats_are_checked_in_the_admin_form(admin_client, partner_conn):
    from django.urls import reverse

    options = connection_options()
    options["objects"]["task"] = {"list": {"path": "/tasks", "updated_since_param": "since",
                                           "updated_at_path": "at"}}  # fmt: skip
    options["webhooks"]["signature"]["encoding"] = "base32"
    options["objects"]["contact"]["get"] = {"path": "/api/contacts"}
    assert rest_option_errors(options) == [
        "contact.get: the path needs {id} (the record's remote id).",
        "webhooks.signature.encoding: hex or base64.",
    ]
    del options["objects"]["contact"]["get"]
    assert rest_option_errors(options)[0].startswith("task.list: only users and contacts")
    form = {"workspace": partner_conn.workspace_id, "provider": "rest", "name": "Partner",
            "slug": "partner", "active": "on", "base_url": partner_conn.base_url,
            "scopes": "", "options": json.dumps(options), "source_of_truth": "[]",
            "users_direction": "off", "contacts_direction": "both", "tasks_direction": "off",
            "notes_direction": "off", "appointments_direction": "off",
            "inbound_permissions": "{}", "rate_limit_requests": 100,
            "rate_limit_interval_seconds": 10, "rate_limit_daily": 200000}  # fmt: skip
    url = reverse("admin:sync_connection_change", args=[partner_conn.pk])
    page = admin_client.post(url, form).content.decode()
    assert "only users and contacts can be listed" in page
    assert "webhooks.signature.encoding: hex or base64." in page
    partner_conn.refresh_from_db()
    assert "task" not in partner_conn.options["objects"]  # nothing saved


def test_the_shipped_presets_list_contacts_with_paths_to_confirm():
    from sync.models import RestPreset

    presets = {p.slug: p for p in RestPreset.objects.all()}
    for slug, path in [("signage", "/api/v1/users"), ("client-management", "/api/contacts"),
                       ("digital-goods-store", "/api/customers")]:  # fmt: skip
        preset = presets[slug]
        preset.full_clean()  # its config validates, reads included
        assert f"contact.list: GET {path}" in preset.paths_to_confirm()
    store = presets["digital-goods-store"].config["webhooks"]["signature"]
    assert (store["header"], store["encoding"]) == ("X-SENDOWL-HMAC-SHA256", "base64")


@responses.activate
def test_reconcile_finds_a_partner_record_by_its_configured_id_path(workspace):
    """A partner whose records carry their id under another key ("uid"): reconcile reads it
    where the connection says, so a linked record listed there is never judged gone."""
    options = connection_options()
    options["objects"]["contact"]["list"].update(
        id_path="uid", cursor_param="", updated_since_param=""
    )
    conn = ConnectionFactory(
        workspace=workspace, provider="rest", name="Uid partner", slug="uid-partner",
        base_url="https://partner.example", credentials={"api_key": API_KEY}, options=options,
        users_direction="off", tasks_direction="off", notes_direction="off",
        appointments_direction="off",
    )  # fmt: skip
    for position, row in enumerate(MAPPINGS):
        FieldMapping.objects.create(
            connection=conn, object_type="contact", position=position, **row
        )
    record = {"uid": "p-1", "firstName": "Ada", "email": "ada@example.com"}
    responses.get("https://partner.example/api/contacts", json={"data": [record]})
    backfill("uid-partner", "--objects", "contacts")
    assert Link.objects.get(connection=conn).remote_id == "p-1"

    report = Reconciler(conn, repair=False).run(["contact"])

    assert report.checked == 1 and report.drift == 0, report.as_dict()
