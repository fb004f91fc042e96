"""Remote credentials kept in the local catalog, encrypted (Fernet) with a key that never enters it.

Namespace properties are readable by every catalog client (even anonymous ones when
anonymous reads are on), so a mirror's ``client_id:secret`` is stored there only as a
Fernet token. The key comes from ``mirror.credential_key`` or, by default, a file of the
node's data directory created with mode 0600 (like the SeaweedFS identity file).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from commonlake.settings import Settings
from mirror.errors import MirrorConfigError

KEY_FILE = "mirror-credentials.key"


class CredentialBox:
    """Encrypts and decrypts stored credentials with one node key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise MirrorConfigError(
                "mirror.credential_key is not a valid Fernet key (32 url-safe base64 bytes)"
            ) from exc

    @classmethod
    def for_settings(cls, settings: Settings) -> CredentialBox:
        """The node's box: the configured key, else the data directory's key file (created on first use)."""
        if settings.mirror.credential_key is not None:
            return cls(settings.mirror.credential_key.get_secret_value().encode())
        return cls(_key_file(settings.resolved_data_dir / KEY_FILE))

    def seal(self, credential: SecretStr) -> str:
        """The credential as an opaque token fit for a catalog property."""
        return self._fernet.encrypt(credential.get_secret_value().encode()).decode()

    def open(self, token: str, mirror: str) -> SecretStr:
        """The credential a token holds; a clear error when this node's key cannot read it."""
        try:
            return SecretStr(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken as exc:
            raise MirrorConfigError(
                f"The stored credential of mirror {mirror!r} cannot be decrypted with this node's key; set "
                f"COMMONLAKE_MIRROR__CREDENTIALS or add the mirror again with --credential"
            ) from exc


def _key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes creating the key at once must not end up with two keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key
