"""Outbound signing against the Standard Webhooks known answer and the reference library."""

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from sync.transport.standard_webhooks import SECRET_PREFIX, new_secret, sign, signed_headers

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = '{"test": 2432232314}'


def test_known_answer_vector():
    assert (
        sign(SECRET, MSG_ID, TIMESTAMP, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_reference_library_verifies_our_headers():
    secret = new_secret()
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers([secret], "msg_1", now, BODY)
    assert Webhook(secret).verify(BODY, headers) == {"test": 2432232314}


def test_during_rotation_either_secret_verifies_and_a_third_does_not():
    old, new = new_secret(), new_secret()
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers([new, old], "msg_2", now, BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers) and Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_new_secrets_are_prefixed_random_and_24_bytes():
    a, b = new_secret(), new_secret()
    assert a.startswith(SECRET_PREFIX) and a != b and len(a) == len(SECRET_PREFIX) + 32


def test_signing_without_a_secret_is_refused():
    with pytest.raises(ValueError, match="No signing secret"):
        signed_headers([], "msg_3", TIMESTAMP, BODY)
