"""Partner connections as the `connections add` command would make them."""

from sync.connectors.partner import CONTACTS_ONLY
from tests.sync.factories import ConnectionFactory

NOTIFY = "https://notify.example"
MAILER = "https://mailer.example"


def notifications_connection(workspace, **fields):
    return ConnectionFactory(
        workspace=workspace,
        provider="notifications",
        name="Notifications",
        slug="notifications",
        base_url=NOTIFY,
        credentials={"api_key": "nk_live_secret"},
        scopes="",
        **{**CONTACTS_ONLY, **fields},
    )


def email_api_connection(workspace, **fields):
    return ConnectionFactory(
        workspace=workspace,
        provider="email_api",
        name="Mailer",
        slug="mailer",
        base_url=MAILER,
        credentials={"client_id": "client-7", "api_key": "mk_secret"},
        scopes="",
        **{
            "options": {"project_id": "p1", "platform_id": 1, "list_id": 7},
            **CONTACTS_ONLY,
            **fields,
        },
    )


HOOK_URL = "https://partner.example/hooks"
HOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def webhook_connection(workspace, **fields):
    defaults = {
        "name": "Partner hooks",
        "slug": "partner-hooks",
        "base_url": HOOK_URL,
        "credentials": {"secrets": [{"secret": HOOK_SECRET, "expires_at": None}]},
        "scopes": "",
    }
    return ConnectionFactory(workspace=workspace, provider="webhook", **{**defaults, **fields})
