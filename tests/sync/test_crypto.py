import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection as db

from sync.models import Connection
from sync.transport.crypto import SecretDecryptionError, decrypt, encrypt
from tests.sync.factories import ConnectionFactory

SECRET = "pit-test-secret-token-0001"


def raw_credentials(conn: Connection) -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials FROM sync_connection WHERE id = %s", [conn.pk])
        return cursor.fetchone()[0]


def test_round_trip_and_fresh_ciphertext_each_time():
    token = encrypt("s3cret")
    assert token != encrypt("s3cret")
    assert decrypt(token) == "s3cret"


def test_wrong_key_raises_instead_of_returning_ciphertext(settings):
    token = encrypt("s3cret")
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretDecryptionError):
        decrypt(token)


def test_empty_or_invalid_keys_fail_loudly(settings):
    settings.FERNET_KEYS = []
    with pytest.raises(ImproperlyConfigured):
        encrypt("x")
    settings.FERNET_KEYS = ["not-a-key"]
    with pytest.raises(ImproperlyConfigured):
        encrypt("x")


@pytest.mark.django_db
def test_credentials_are_ciphertext_in_the_database_and_plain_in_python():
    conn = ConnectionFactory()
    assert SECRET not in raw_credentials(conn)
    assert Connection.objects.get(pk=conn.pk).credentials == {"token": SECRET}


@pytest.mark.django_db
def test_loading_with_a_wrong_key_raises(settings):
    conn = ConnectionFactory()
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretDecryptionError):
        Connection.objects.get(pk=conn.pk)


@pytest.mark.django_db
def test_dumpdata_contains_no_secret():
    ConnectionFactory()
    out = io.StringIO()
    call_command("dumpdata", "sync", stdout=out)
    assert "credentials" in out.getvalue()
    assert SECRET not in out.getvalue()


@pytest.mark.django_db
def test_rotate_fernet_lets_the_old_key_go(settings):
    old_key = settings.FERNET_KEYS[0]
    conn = ConnectionFactory()
    new_key = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("rotate_fernet", stdout=out)
    assert "Re-encrypted 1 secret(s)" in out.getvalue()
    settings.FERNET_KEYS = [new_key]
    assert Connection.objects.get(pk=conn.pk).credentials == {"token": SECRET}
    assert SECRET not in raw_credentials(conn)


@pytest.mark.django_db
def test_rotate_fernet_reports_an_unreadable_row(settings):
    ConnectionFactory()
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_fernet", stdout=io.StringIO())
