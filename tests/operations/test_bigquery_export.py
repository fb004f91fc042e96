"""The BigQuery mirror of the marts, against the real bqemulator server and google-cloud-bigquery client."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from operations.bigquery_export import SNAPSHOT_LABEL, BigQueryExportError, export_marts
from operations.bigquery_schema import UnsupportedTypeError, bigquery_schema, decimal_type
from tests.conftest import RunningCatalog
from tests.operations.bigquery_emulator import PROJECT, BigQueryEmulator

TYPED = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "ts", TimestamptzType(), required=False),
    NestedField(3, "local_ts", TimestampType(), required=False),
    NestedField(4, "day", DateType(), required=False),
    NestedField(5, "amount", DecimalType(18, 4), required=False),
    NestedField(6, "tags", ListType(7, StringType(), element_required=False), required=False),
    NestedField(
        8,
        "owner",
        StructType(
            NestedField(9, "login", StringType(), required=False),
            NestedField(10, "scores", ListType(11, DoubleType(), element_required=False), required=False),
        ),
        required=False,
    ),
    NestedField(12, "uid", UUIDType(), required=False),
    NestedField(13, "at", TimeType(), required=False),
    NestedField(14, "attrs", MapType(15, StringType(), 16, LongType(), value_required=False), required=False),
    NestedField(17, "blob", BinaryType(), required=False),
    NestedField(18, "ratio", FloatType(), required=False),
    NestedField(19, "ok", BooleanType(), required=False),
)
# BigQuery answers with legacy type names, the emulator with standard ones.
LEGACY_NAMES = {"INTEGER": "INT64", "BOOLEAN": "BOOL", "FLOAT": "FLOAT64"}
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")
ROWS = [
    {
        "id": 1,
        "ts": dt.datetime(2025, 9, 1, 3, 4, 5, 123456, tzinfo=dt.UTC),
        "local_ts": dt.datetime(2025, 9, 1, 3, 4, 5, 654321),
        "day": dt.date(2025, 9, 1),
        "amount": decimal.Decimal("12.3456"),
        "tags": ["a", "b"],
        "owner": {"login": "ada", "scores": [1.5, 2.5]},
        "uid": UID.bytes,
        "at": dt.time(3, 4, 5, 6),
        "attrs": [("stars", 3)],
        "blob": b"\x00\x01",
        "ratio": 0.5,
        "ok": True,
    },
    {key: None for key in ("ts", "local_ts", "day", "amount", "tags", "owner", "uid", "at", "attrs", "blob")}
    | {"id": 2, "ratio": None, "ok": False},
]
EXPECTED = [
    {
        "id": 1,
        "ts": dt.datetime(2025, 9, 1, 3, 4, 5, 123456, tzinfo=dt.UTC),
        "local_ts": dt.datetime(2025, 9, 1, 3, 4, 5, 654321),
        "day": dt.date(2025, 9, 1),
        "amount": decimal.Decimal("12.3456"),
        "tags": ["a", "b"],
        "owner": {"login": "ada", "scores": [1.5, 2.5]},
        "uid": str(UID),
        "at": dt.time(3, 4, 5, 6),
        "attrs": [{"key": "stars", "value": 3}],
        "blob": b"\x00\x01",
        "ratio": 0.5,
        "ok": True,
    },
    # BigQuery has no NULL arrays: a NULL list or map arrives as an empty one.
    {key: None for key in ("ts", "local_ts", "day", "amount", "owner", "uid", "at", "blob", "ratio")}
    | {"id": 2, "tags": [], "attrs": [], "ok": False},
]


def _typed_table(catalog, name: str):
    catalog.create_namespace_if_not_exists("marts")
    table = catalog.create_table(("marts", name), schema=TYPED)
    table.append(pa.Table.from_pylist(ROWS, schema=table.schema().as_arrow()))
    return table


def _bq_rows(emulator: BigQueryEmulator, table: str) -> list[dict]:
    rows = [dict(row) for row in emulator.client().list_rows(table)]
    return sorted(rows, key=lambda row: row["id"])


def test_every_type_arrives_faithfully_and_a_rerun_loads_nothing(
    module_catalog: RunningCatalog, bq_emulator: BigQueryEmulator
) -> None:
    catalog = module_catalog.catalog
    table = _typed_table(catalog, "typed")
    settings = bq_emulator.export_settings()

    first = export_marts(catalog, settings, "marts", dataset="mirror", tables=["typed"], create_dataset=True)
    assert [(m.destination, m.rows, m.loaded) for m in first] == [(f"{PROJECT}.mirror.typed", 2, True)]
    mirrored = bq_emulator.client().get_table(f"{PROJECT}.mirror.typed")
    types = {
        field.name: (LEGACY_NAMES.get(field.field_type, field.field_type), field.mode) for field in mirrored.schema
    }
    assert types == {
        "id": ("INT64", "REQUIRED"),
        "ts": ("TIMESTAMP", "NULLABLE"),
        "local_ts": ("DATETIME", "NULLABLE"),
        "day": ("DATE", "NULLABLE"),
        "amount": ("NUMERIC", "NULLABLE"),
        "tags": ("STRING", "REPEATED"),
        "owner": ("RECORD", "NULLABLE"),
        "uid": ("STRING", "NULLABLE"),
        "at": ("TIME", "NULLABLE"),
        "attrs": ("RECORD", "REPEATED"),
        "blob": ("BYTES", "NULLABLE"),
        "ratio": ("FLOAT64", "NULLABLE"),
        "ok": ("BOOL", "NULLABLE"),
    }
    assert _bq_rows(bq_emulator, f"{PROJECT}.mirror.typed") == EXPECTED
    assert mirrored.labels[SNAPSHOT_LABEL] == str(table.current_snapshot().snapshot_id)

    again = export_marts(catalog, settings, "marts", dataset="mirror", tables=["typed"])
    assert [(m.rows, m.loaded) for m in again] == [(2, False)]
    assert _bq_rows(bq_emulator, f"{PROJECT}.mirror.typed") == EXPECTED


def test_a_new_snapshot_replaces_the_mirror_without_duplicates(
    module_catalog: RunningCatalog, bq_emulator: BigQueryEmulator
) -> None:
    catalog = module_catalog.catalog
    catalog.create_namespace_if_not_exists("marts")
    table = catalog.create_table(("marts", "counts"), schema=Schema(NestedField(1, "n", LongType(), required=False)))
    table.append(pa.table({"n": pa.array([1, 2, 3], pa.int64())}))
    settings = bq_emulator.export_settings("mirror_counts")
    export_marts(catalog, settings, "marts", tables=["counts"], create_dataset=True)

    table.overwrite(pa.table({"n": pa.array([10, 20], pa.int64())}))
    [result] = export_marts(catalog, settings, "marts", tables=["counts"])
    assert result.loaded and result.snapshot_id == table.current_snapshot().snapshot_id
    client = bq_emulator.client()
    assert sorted(row["n"] for row in client.list_rows(f"{PROJECT}.mirror_counts.counts")) == [10, 20]
    assert client.get_table(f"{PROJECT}.mirror_counts.counts").labels[SNAPSHOT_LABEL] == str(result.snapshot_id)


def test_a_missing_dataset_is_a_clear_error(module_catalog: RunningCatalog, bq_emulator: BigQueryEmulator) -> None:
    with pytest.raises(BigQueryExportError, match=r"dataset commonlake-test\.nowhere does not exist.*--create-dataset"):
        export_marts(module_catalog.catalog, bq_emulator.export_settings("nowhere"), "marts")


def test_a_column_bigquery_cannot_hold_fails_before_touching_the_mirror(
    module_catalog: RunningCatalog, bq_emulator: BigQueryEmulator
) -> None:
    catalog = module_catalog.catalog
    catalog.create_namespace_if_not_exists("marts")
    schema = Schema(NestedField(1, "tags", ListType(2, StringType(), element_required=False), required=False))
    table = catalog.create_table(("marts", "holes"), schema=schema)
    table.append(pa.table({"tags": pa.array([["x"]], pa.list_(pa.string()))}))
    settings = bq_emulator.export_settings("mirror_holes")
    export_marts(catalog, settings, "marts", tables=["holes"], create_dataset=True)

    table.append(pa.table({"tags": pa.array([["y", None]], pa.list_(pa.string()))}))
    with pytest.raises(UnsupportedTypeError, match="tags: BigQuery arrays cannot hold NULL elements"):
        export_marts(catalog, settings, "marts", tables=["holes"])
    rows = [dict(row) for row in bq_emulator.client().list_rows(f"{PROJECT}.mirror_holes.holes")]
    assert rows == [{"tags": ["x"]}], "the previous mirror is intact"


def test_decimal_and_nesting_mapping() -> None:
    assert decimal_type(38, 9) == "NUMERIC"  # 29 integer digits, 9 decimals: NUMERIC's limits
    assert decimal_type(38, 10) == "BIGNUMERIC"
    assert decimal_type(30, 0) == "BIGNUMERIC"
    [field] = bigquery_schema(Schema(NestedField(1, "x", DecimalType(38, 18), required=True)))
    assert (field.field_type, field.precision, field.scale, field.mode) == ("BIGNUMERIC", 38, 18, "REQUIRED")
    nested = Schema(NestedField(1, "xs", ListType(2, ListType(3, LongType())), required=False))
    with pytest.raises(UnsupportedTypeError, match="xs: BigQuery has no arrays of arrays"):
        bigquery_schema(nested)


def _cli(args: list[str], data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the CLI; its output with rich's line wrapping undone."""
    done = subprocess.run(
        [sys.executable, "-m", "commonlake", "export", "bigquery", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    done.stdout = " ".join(done.stdout.split())
    return done


def test_cli_says_what_is_missing(
    module_catalog: RunningCatalog, bq_emulator: BigQueryEmulator, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "CLOUDSDK_", "COMMONLAKE_"))}
    # No credentials anywhere; NO_GCE_CHECK keeps google-auth from probing a metadata server.
    env = {
        **base,
        **module_catalog.settings.to_env(),
        "HOME": str(home),
        "CLOUDSDK_CONFIG": str(home / "gcloud"),
        "NO_GCE_CHECK": "true",
        "COMMONLAKE_EXPORT__BIGQUERY_PROJECT": PROJECT,
    }
    data_dir = module_catalog.settings.resolved_data_dir

    no_credentials = _cli(["--dataset", "mirror"], data_dir, env)
    assert no_credentials.returncode == 2, no_credentials.stdout + no_credentials.stderr
    assert "No Google Cloud credentials found" in no_credentials.stdout
    assert "COMMONLAKE_EXPORT__BIGQUERY_CREDENTIALS_FILE" in no_credentials.stdout

    missing_file = _cli(
        ["--dataset", "mirror"],
        data_dir,
        {**env, "COMMONLAKE_EXPORT__BIGQUERY_CREDENTIALS_FILE": str(home / "no.json")},
    )
    assert missing_file.returncode == 2 and "does not exist" in missing_file.stdout

    emulator = ["--anonymous", "--api-endpoint", bq_emulator.endpoint]
    no_dataset = _cli([*emulator, "--dataset", "absent"], data_dir, env)
    assert no_dataset.returncode == 2 and "absent does not exist" in no_dataset.stdout

    done = _cli([*emulator, "--dataset", "via_cli", "--create-dataset", "--table", "typed"], data_dir, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "loaded" in done.stdout
    assert _bq_rows(bq_emulator, f"{PROJECT}.via_cli.typed") == EXPECTED
