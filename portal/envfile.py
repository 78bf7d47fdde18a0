"""Write a development `.env` with fresh secrets, unless one exists.

Run before Django is configured (`python -m portal.envfile`): settings need these values.
"""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Written by `make run` on first start. Keep it private: it holds this install's secrets.
DEBUG=1
SECRET_KEY={secret_key}
# Comma-separated, newest first. To rotate: prepend a new key, run `manage.py rotate_fernet`,
# then drop the old one.
FERNET_KEYS={fernet_key}
# Keys partner API key hashes; independent of SECRET_KEY, so rotating that keeps keys valid.
API_KEY_PEPPER={pepper}
ALLOWED_HOSTS=localhost,127.0.0.1,[::1]
"""


def write_env_file(path: Path) -> bool:
    if path.exists():
        return False
    path.write_text(
        TEMPLATE.format(
            secret_key=secrets.token_urlsafe(50),
            fernet_key=Fernet.generate_key().decode(),
            pepper=secrets.token_urlsafe(32),
        )
    )
    path.chmod(0o600)
    return True


def missing_pepper_note(path: Path) -> str:
    """What to tell the operator whose existing .env has no API_KEY_PEPPER ('' if it has)."""
    names = {line.split("=", 1)[0].strip() for line in path.read_text().splitlines() if "=" in line}
    if "API_KEY_PEPPER" in names:
        return ""
    return (
        f"Note: {path} sets no API_KEY_PEPPER, so partner API key hashes derive from SECRET_KEY "
        "(rotating it invalidates every key). Add API_KEY_PEPPER=<random> to decouple them; "
        "keys issued before then must be re-issued."
    )


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if write_env_file(target):
        print(f"Wrote {target} with a new SECRET_KEY, FERNET_KEYS and API_KEY_PEPPER.")
    elif note := missing_pepper_note(target):
        print(note)
