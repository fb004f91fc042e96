"""Who may have a token: principals from settings or from the catalog database."""

from __future__ import annotations

import json
import secrets
import time

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from catalog.auth.secrets import verify_secret
from catalog.auth.tokens import TokenSigner
from catalog.schema import principals_table, server_keys_table
from catalog.store import CatalogStore
from commonlake.settings import CatalogAuthSettings

SIGNING_KEY_NAME = "token-signing"
VALID_ROLES = ("reader", "writer")


class InvalidClientError(Exception):
    """Unknown client or wrong secret (one message for both, so client ids can't be probed)."""


class Authenticator:
    """Checks client credentials and issues tokens; verification of tokens is the signer's job."""

    def __init__(self, settings: CatalogAuthSettings, store: CatalogStore) -> None:
        self.settings = settings
        self.store = store
        key = settings.signing_key.get_secret_value().encode() if settings.signing_key else self._shared_key()
        self.signer = TokenSigner(key, settings.token_ttl_seconds)

    def _shared_key(self) -> bytes:
        """A random signing key kept in the catalog database, so every replica signs alike."""
        cond = server_keys_table.c.name == SIGNING_KEY_NAME
        with self.store.read() as conn:
            row = conn.execute(select(server_keys_table.c.value).where(cond)).first()
        if row is None:
            try:
                with self.store.write() as conn:
                    conn.execute(
                        insert(server_keys_table).values(
                            name=SIGNING_KEY_NAME, value=secrets.token_hex(32), created_at_ms=int(time.time() * 1000)
                        )
                    )
            except IntegrityError:
                pass  # another replica created it first; read theirs
            with self.store.read() as conn:
                row = conn.execute(select(server_keys_table.c.value).where(cond)).one()
        return bytes.fromhex(row[0])

    def roles_of(self, client_id: str, client_secret: str) -> dict[str, str]:
        """The roles of a principal whose secret matches; raises InvalidClientError otherwise."""
        configured = self.settings.principals.get(client_id)
        if configured is not None:
            stored_hash, roles = configured.secret_hash.get_secret_value(), dict(configured.roles)
        else:
            with self.store.read() as conn:
                row = conn.execute(
                    select(principals_table.c.secret_hash, principals_table.c.roles).where(
                        principals_table.c.client_id == client_id
                    )
                ).first()
            if row is None:
                raise InvalidClientError("Invalid client credentials")
            stored_hash, roles = row[0], json.loads(row[1])
        if not verify_secret(client_secret, stored_hash):
            raise InvalidClientError("Invalid client credentials")
        return roles

    def issue(self, client_id: str, client_secret: str) -> str:
        """A token for a principal, after checking its secret."""
        return self.signer.issue(client_id, self.roles_of(client_id, client_secret))

    def add_principal(self, client_id: str, secret_hash: str, roles: dict[str, str]) -> None:
        """Store a principal in the catalog database (its secret only as a hash)."""
        bad = {r for r in roles.values() if r not in VALID_ROLES}
        if bad:
            raise ValueError(f"Unknown roles {sorted(bad)}; use one of {VALID_ROLES}")
        with self.store.write() as conn:
            conn.execute(
                insert(principals_table).values(
                    client_id=client_id,
                    secret_hash=secret_hash,
                    roles=json.dumps(roles),
                    created_at_ms=int(time.time() * 1000),
                )
            )
