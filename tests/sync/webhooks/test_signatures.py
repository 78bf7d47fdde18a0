import base64
import time
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from standardwebhooks.webhooks import Webhook

from sync.connectors.highlevel import signatures
from sync.connectors.highlevel.signatures import DEFAULT_KEY_FILES, load_public_keys
from sync.connectors.highlevel.signatures import verify as verify_highlevel
from sync.transport.standard_webhooks import sign
from sync.transport.standard_webhooks import verify as verify_standard
from sync.transport.webhook_checks import SignatureError, check_timestamp, parse_timestamp
from tests.sync.webhooks.conftest import (
    ED_KEY,
    OTHER_ED_KEY,
    RSA_KEY,
    public_pem,
    sign_ed25519,
    sign_rsa,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
BODY = b'{"test": 2432232314}'


def test_sign_reproduces_the_standard_webhooks_known_answer():
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(SECRET, MSG_ID, 1614265330, BODY) == expected
    assert sign(SECRET, MSG_ID, "1614265330", BODY.decode()) == expected


def test_the_reference_library_accepts_our_signature_and_we_accept_its():
    now = int(time.time())
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(SECRET, MSG_ID, now, BODY),
    }
    assert Webhook(SECRET).verify(BODY, headers) == {"test": 2432232314}
    theirs = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(now, tz=UTC), BODY.decode())
    assert verify_standard([SECRET], {**headers, "webhook-signature": theirs}, BODY) == MSG_ID


def _standard_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict:
    ts = timestamp if timestamp is not None else int(time.time())
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, MSG_ID, ts, body),
    }


def test_any_active_secret_verifies_during_rotation():
    new = "whsec_" + base64.b64encode(b"n" * 32).decode()
    headers = _standard_headers(SECRET, BODY)
    assert verify_standard([new, SECRET], headers, BODY) == MSG_ID
    # A sender signing with both secrets sends both signatures, space separated.
    both = {**headers, "webhook-signature": "v1,bm9wZQ== " + headers["webhook-signature"]}
    assert verify_standard([SECRET], both, BODY) == MSG_ID


NOW = object()  # replaced by the current time when the test runs (not when it is collected)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"webhook-signature": ""}, "missing_signature"),
        ({"webhook-id": "msg_other"}, "invalid_signature"),
        ({"webhook-timestamp": "soon"}, "invalid_timestamp"),
        ({"webhook-timestamp": (NOW, -301)}, "timestamp_out_of_tolerance"),
        ({"webhook-timestamp": (NOW, 301)}, "timestamp_out_of_tolerance"),
    ],
)
def test_standard_rejections(change, code):
    headers = _standard_headers(SECRET, BODY)
    for name, value in change.items():
        headers[name] = str(int(time.time()) + value[1]) if isinstance(value, tuple) else value
    with pytest.raises(SignatureError) as raised:
        verify_standard([SECRET], headers, BODY)
    assert raised.value.code == code


def test_a_changed_body_or_another_secret_is_refused():
    headers = _standard_headers(SECRET, BODY)
    with pytest.raises(SignatureError):
        verify_standard([SECRET], headers, BODY + b" ")
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    with pytest.raises(SignatureError):
        verify_standard([other], headers, BODY)


def test_crm_signatures_ed25519_and_rsa_both_verify_over_the_raw_body():
    assert verify_highlevel(BODY, {"x-ghl-signature": sign_ed25519(BODY)}) == "x-ghl-signature"
    assert verify_highlevel(BODY, {"x-wh-signature": sign_rsa(BODY)}) == "x-wh-signature"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-ghl-signature": sign_ed25519(BODY, OTHER_ED_KEY)},
        {"x-ghl-signature": sign_ed25519(BODY + b"x")},
        {"x-ghl-signature": "not base64!"},
        {"x-wh-signature": sign_ed25519(BODY)},  # an Ed25519 signature in the RSA header
    ],
)
def test_crm_signature_rejections(headers):
    with pytest.raises(SignatureError):
        verify_highlevel(BODY, headers)


def test_keys_load_inline_from_files_and_by_default(tmp_path):
    path = tmp_path / "k.pem"
    path.write_text(public_pem(OTHER_ED_KEY))
    keys = load_public_keys(f"{public_pem(ED_KEY)}\n\n{path}, {public_pem(RSA_KEY)}")
    assert len(keys) == 3
    defaults = load_public_keys("")
    assert len(defaults) == 2 and all(p.is_file() for p in DEFAULT_KEY_FILES)
    with pytest.raises(ImproperlyConfigured):
        load_public_keys(str(tmp_path / "missing.pem"))


def test_timestamps_beyond_the_tolerance_either_way_are_refused(settings):
    settings.WEBHOOK_TOLERANCE_SECONDS = 300
    now = time.time()
    check_timestamp(parse_timestamp(now - 299), now=now)
    for skew in (-301, 301):
        with pytest.raises(SignatureError):
            check_timestamp(parse_timestamp(now + skew), now=now)
    with pytest.raises(SignatureError):
        check_timestamp(None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-11-26T12:41:02.193Z", datetime(2021, 11, 26, 12, 41, 2, 193000, tzinfo=UTC)),
        (1614265330, datetime(2021, 2, 25, 15, 2, 10, tzinfo=UTC)),
        (1614265330000, datetime(2021, 2, 25, 15, 2, 10, tzinfo=UTC)),
        ("1614265330", datetime(2021, 2, 25, 15, 2, 10, tzinfo=UTC)),
        ("yesterday", None),
        (True, None),
        (None, None),
        (10**40, None),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


def _ed25519_signature_variants() -> dict[str, bytes]:
    good = ED_KEY.sign(BODY)
    flipped = bytes([good[0] ^ 1]) + good[1:]
    return {
        "good": good,
        "a bit flipped": flipped,
        "63 bytes": good[:-1],
        "65 bytes": good + b"\0",
        "another key's": OTHER_ED_KEY.sign(BODY),
        "the body changed": ED_KEY.sign(BODY + b" "),
        "all zeros": bytes(64),
    }


@pytest.mark.parametrize("variant", list(_ed25519_signature_variants()))
def test_ed25519_verdicts_are_openssls(variant):
    """Ed25519 is checked by libsodium (faster per delivery); its verdict on each signature is
    the one OpenSSL (cryptography) gives."""
    from cryptography.exceptions import InvalidSignature

    signature = _ed25519_signature_variants()[variant]
    try:
        ED_KEY.public_key().verify(signature, BODY)
        openssl_accepts = True
    except InvalidSignature:
        openssl_accepts = False
    headers = {"x-ghl-signature": base64.b64encode(signature).decode()}
    try:
        verify_highlevel(BODY, headers)
        accepted = True
    except SignatureError as refused:
        assert refused.code == "invalid_signature"
        accepted = False
    assert accepted == openssl_accepts
    assert accepted == (variant == "good")


def test_ed25519_is_checked_by_libsodium_with_the_key_prepared_once(monkeypatch):
    import nacl.signing

    made, checked = [], []
    original_init, original_verify = nacl.signing.VerifyKey.__init__, nacl.signing.VerifyKey.verify

    def counting_init(self, *args, **kwargs):
        made.append(1)
        original_init(self, *args, **kwargs)

    def counting_verify(self, *args, **kwargs):
        checked.append(1)
        return original_verify(self, *args, **kwargs)

    monkeypatch.setattr(nacl.signing.VerifyKey, "__init__", counting_init)
    monkeypatch.setattr(nacl.signing.VerifyKey, "verify", counting_verify)
    signatures._cached_keys.cache_clear()  # as in a fresh process
    for _ in range(3):
        assert verify_highlevel(BODY, {"x-ghl-signature": sign_ed25519(BODY)}) == "x-ghl-signature"
    assert checked == [1, 1, 1] and made == [1]  # one configured Ed25519 key
