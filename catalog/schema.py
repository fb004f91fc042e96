"""The catalog database's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Timestamps are epoch milliseconds in BIGINT columns (they overflow PostgreSQL's INTEGER).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata_obj = MetaData()

namespaces_table = Table(
    "commonlake_namespaces",
    metadata_obj,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("warehouse", String(255), nullable=False),
    Column("name", String(2048), nullable=False),
    Column("properties", Text, nullable=False, default="{}"),
    Column("created_at_ms", BigInteger, nullable=False),
    UniqueConstraint("warehouse", "name", name="uq_namespace"),
)

objects_table = Table(
    "commonlake_objects",
    metadata_obj,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("warehouse", String(255), nullable=False),
    Column("namespace", String(2048), nullable=False),
    Column("name", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("metadata_location", Text, nullable=False),
    Column("previous_metadata_location", Text, nullable=True),
    Column("updated_at_ms", BigInteger, nullable=False),
    # One name per namespace, whether table or view (a view may not shadow a table).
    UniqueConstraint("warehouse", "namespace", "name", name="uq_object"),
    Index("ix_objects_namespace", "warehouse", "namespace", "kind", "name"),
)

principals_table = Table(
    "commonlake_principals",
    metadata_obj,
    Column("client_id", String(255), primary_key=True),
    # scrypt$n$r$p$salt$hash: never the secret itself.
    Column("secret_hash", Text, nullable=False),
    # JSON object: warehouse name (or "*") -> "reader" | "writer".
    Column("roles", Text, nullable=False, default="{}"),
    Column("created_at_ms", BigInteger, nullable=False),
)

server_keys_table = Table(
    "commonlake_server_keys",
    metadata_obj,
    # e.g. "token-signing": one random key that every replica on this database shares.
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
)

idempotency_table = Table(
    "commonlake_idempotency_keys",
    metadata_obj,
    Column("key", String(64), primary_key=True),
    # sha256 of method, path and body: the same key on another request is refused.
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # "pending" while running, "done" once finalized
    Column("status", Integer, nullable=True),
    Column("content_type", String(128), nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created_at_ms", BigInteger, nullable=False),
    Index("ix_idempotency_created", "created_at_ms"),
)
