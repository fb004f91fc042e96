"""Schemas of the raw tables (namespace ``raw``).

Arrow schemas are the contract between sources and the loader; the Iceberg schema of each
table is derived from them by PyIceberg when the table is created. Field order and names
follow the source formats (GH Archive events, oss-directory YAML).
"""

from __future__ import annotations

import pyarrow as pa

RAW_NAMESPACE = "raw"

# Column every raw table carries: which unit of load wrote the row. Loading a unit again
# replaces exactly the rows tagged with it.
UNIT_COLUMN = "_source_unit"

_actor = pa.struct(
    [
        ("id", pa.int64()),
        ("login", pa.string()),
        ("display_login", pa.string()),
        ("gravatar_id", pa.string()),
        ("url", pa.string()),
        ("avatar_url", pa.string()),
    ]
)
_repo = pa.struct([("id", pa.int64()), ("name", pa.string()), ("url", pa.string())])
_org = pa.struct(
    [
        ("id", pa.int64()),
        ("login", pa.string()),
        ("gravatar_id", pa.string()),
        ("url", pa.string()),
        ("avatar_url", pa.string()),
    ]
)

GITHUB_EVENTS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("actor", _actor),
        pa.field("repo", _repo),
        pa.field("org", _org),
        # Kept as JSON text so that payload changes never break the load.
        pa.field("payload", pa.string()),
        pa.field("public", pa.bool_()),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field(UNIT_COLUMN, pa.string(), nullable=False),
    ]
)

_url_list = pa.list_(pa.struct([("url", pa.string())]))

OSSD_PROJECTS = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("display_name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("version", pa.int32()),
        pa.field("websites", _url_list),
        pa.field("github", _url_list),
        pa.field("npm", _url_list),
        pa.field("pypi", _url_list),
        pa.field("crates", _url_list),
        pa.field("go", _url_list),
        pa.field("open_collective", _url_list),
        pa.field("defillama", _url_list),
        pa.field(
            "social",
            pa.struct(
                [
                    ("twitter", _url_list),
                    ("telegram", _url_list),
                    ("farcaster", _url_list),
                    ("mirror", _url_list),
                    ("medium", _url_list),
                    ("discord", _url_list),
                ]
            ),
        ),
        pa.field(
            "blockchain",
            pa.list_(
                pa.struct(
                    [
                        ("address", pa.string()),
                        ("name", pa.string()),
                        ("networks", pa.list_(pa.string())),
                        ("tags", pa.list_(pa.string())),
                    ]
                )
            ),
        ),
        # The whole file as JSON, so nothing of the source is lost.
        pa.field("data", pa.string()),
        pa.field("file_path", pa.string()),
        pa.field("source_version", pa.string(), nullable=False),
        pa.field(UNIT_COLUMN, pa.string(), nullable=False),
    ]
)

OSSD_COLLECTIONS = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("display_name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("version", pa.int32()),
        pa.field("projects", pa.list_(pa.string())),
        pa.field("data", pa.string()),
        pa.field("file_path", pa.string()),
        pa.field("source_version", pa.string(), nullable=False),
        pa.field(UNIT_COLUMN, pa.string(), nullable=False),
    ]
)

# One row per artifact a project declares (flattened from the project files).
OSSD_ARTIFACTS = pa.schema(
    [
        pa.field("project_name", pa.string(), nullable=False),
        pa.field("artifact_type", pa.string(), nullable=False),  # github, npm, pypi, blockchain, website, social_x…
        pa.field("url", pa.string()),  # url, or the address for blockchain artifacts
        pa.field("name", pa.string()),
        pa.field("networks", pa.list_(pa.string())),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("source_version", pa.string(), nullable=False),
        pa.field(UNIT_COLUMN, pa.string(), nullable=False),
    ]
)

REJECTS = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("position", pa.string()),  # line number, file path, row index…
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),  # truncated raw text
        pa.field("rejected_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field(UNIT_COLUMN, pa.string(), nullable=False),
    ]
)
