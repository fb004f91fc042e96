"""Names of the catalog properties holding a mirror's configuration and each mirrored table's provenance.

A mirror's configuration is the properties of its top-level namespace ``NAME``; the
provenance of each mirrored table is in its own table properties, so it is written in the
same atomic step as the data it describes and every catalog client (and the gateway's
table endpoint) can see it.
"""

from __future__ import annotations

PREFIX = "commonlake.mirror."

# ---- the mirror (properties of namespace NAME) ----------------------------------------------
REMOTE_URI = PREFIX + "remote-uri"
REMOTE_WAREHOUSE = PREFIX + "remote-warehouse"
MODE = PREFIX + "mode"
NAMESPACES = PREFIX + "namespaces"
CREDENTIAL = PREFIX + "credential"  # Fernet-encrypted client_id:secret, never the plain value
CREATED_AT = PREFIX + "created-at"
LAST_REFRESH = PREFIX + "last-refresh"  # JSON: when, status, counts
SOURCE_NAMESPACE = PREFIX + "source-namespace"  # on NAME.<namespace>

# ---- each mirrored table (table properties) ----------------------------------------------------
SOURCE_NODE = PREFIX + "source-node"
SOURCE_WAREHOUSE = PREFIX + "source-warehouse"
SOURCE_TABLE = PREFIX + "source-table"
SOURCE_TABLE_UUID = PREFIX + "source-table-uuid"
SOURCE_SNAPSHOT_ID = PREFIX + "source-snapshot-id"
SOURCE_METADATA_LOCATION = PREFIX + "source-metadata-location"
MIRROR_NAME = PREFIX + "name"
MIRROR_MODE = PREFIX + "mode"
MIRRORED_AT = PREFIX + "mirrored-at"
SOURCE_DROPPED_AT = PREFIX + "source-dropped-at"

# The catalog refuses every commit to a table with this property set to "true"
# (catalog.tables.READ_ONLY_PROPERTY; the mirror reaches the catalog only over HTTP).
READ_ONLY = "commonlake.read-only"

# Table properties of the remote that name remote paths: meaningless (and misleading) locally.
REMOTE_PATH_PROPERTIES = frozenset(
    {"write.data.path", "write.metadata.path", "write.folder-storage.path", "write.object-storage.path"}
)
