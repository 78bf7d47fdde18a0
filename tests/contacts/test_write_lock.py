"""The write path's row lock: the record's row only, never its workspace's."""

import threading

import pytest
from django.db import connections, transaction

from contacts.services import contact_update, locked_for_update
from portal.models import Workspace
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_record_held_for_update_leaves_its_workspace_free_to_lock(workspace, actor):
    contact = ContactFactory(workspace=workspace, first_name="Ada")
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                current = locked_for_update(contact)
                assert current.workspace.allow_duplicate_contacts is False  # joined in
                held.set()
                release.wait(10)
                contact_update(current, actor=actor, data={"first_name": "Grace"}, locked=True)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(10)
        # A change of the workspace's settings (which takes its row lock) is not made to wait
        # for every write in the workspace: NOWAIT fails at once if the row is held.
        with transaction.atomic():
            Workspace.objects.select_for_update(nowait=True).get(pk=workspace.pk)
    finally:
        release.set()
        thread.join()
    contact.refresh_from_db()
    assert contact.first_name == "Grace" and contact.version == 2
