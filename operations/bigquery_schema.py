"""Mapping Iceberg tables onto BigQuery: the schema, and the Arrow data BigQuery can load.

Google's client maps pandas/Arrow types loosely (no BIGNUMERIC choice, no DATETIME vs
TIMESTAMP from Iceberg's types), so the mapping is made here from the Iceberg schema, the
most precise description of each column:

==========================  =========================================================
Iceberg                     BigQuery
==========================  =========================================================
boolean                     BOOL
int, long                   INT64
float, double               FLOAT64
decimal(p, s)               NUMERIC(p, s) when s <= 9 and p - s <= 29, else BIGNUMERIC
date / time                 DATE / TIME
timestamp                   DATETIME (no time zone)
timestamptz                 TIMESTAMP
timestamp(tz)_ns            DATETIME / TIMESTAMP (BigQuery keeps microseconds)
string, uuid                STRING (uuid in its canonical text form)
binary, fixed(n)            BYTES
struct                      RECORD with the same fields
list<T>                     T, mode REPEATED (a NULL list loads as an empty array)
map<K, V>                   REPEATED RECORD<key K, value V>
==========================  =========================================================

BigQuery has no arrays of arrays and no NULL array elements; such columns raise
:class:`UnsupportedTypeError` naming the column, instead of loading something else.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from google.cloud.bigquery import SchemaField
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampNanoType,
    TimestampType,
    TimestamptzNanoType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

NUMERIC_MAX_SCALE = 9
NUMERIC_MAX_INTEGER_DIGITS = 29


class UnsupportedTypeError(ValueError):
    """A column whose type BigQuery cannot represent faithfully."""


_PRIMITIVES: dict[type[IcebergType], str] = {
    BooleanType: "BOOL",
    IntegerType: "INT64",
    LongType: "INT64",
    FloatType: "FLOAT64",
    DoubleType: "FLOAT64",
    DateType: "DATE",
    TimeType: "TIME",
    TimestampType: "DATETIME",
    TimestampNanoType: "DATETIME",
    TimestamptzType: "TIMESTAMP",
    TimestamptzNanoType: "TIMESTAMP",
    StringType: "STRING",
    UUIDType: "STRING",
    BinaryType: "BYTES",
    FixedType: "BYTES",
}


def decimal_type(precision: int, scale: int) -> str:
    """NUMERIC when the decimal fits it, else BIGNUMERIC."""
    if scale <= NUMERIC_MAX_SCALE and precision - scale <= NUMERIC_MAX_INTEGER_DIGITS:
        return "NUMERIC"
    return "BIGNUMERIC"


def _field(name: str, iceberg_type: IcebergType, required: bool, doc: str | None, path: str) -> SchemaField:
    mode = "REQUIRED" if required else "NULLABLE"
    if isinstance(iceberg_type, ListType):
        if isinstance(iceberg_type.element_type, ListType):
            raise UnsupportedTypeError(f"Column {path}: BigQuery has no arrays of arrays")
        inner = _field(name, iceberg_type.element_type, True, doc, f"{path}[]")
        return SchemaField(
            name,
            inner.field_type,
            mode="REPEATED",
            fields=inner.fields,
            description=doc,
            precision=inner.precision,
            scale=inner.scale,
        )
    if isinstance(iceberg_type, MapType):
        entry = [
            _field("key", iceberg_type.key_type, True, None, f"{path}.key"),
            _field("value", iceberg_type.value_type, iceberg_type.value_required, None, f"{path}.value"),
        ]
        return SchemaField(name, "RECORD", mode="REPEATED", fields=entry, description=doc)
    if isinstance(iceberg_type, StructType):
        fields = [_nested(f, f"{path}.{f.name}") for f in iceberg_type.fields]
        return SchemaField(name, "RECORD", mode=mode, fields=fields, description=doc)
    if isinstance(iceberg_type, DecimalType):
        kind = decimal_type(iceberg_type.precision, iceberg_type.scale)
        return SchemaField(
            name, kind, mode=mode, description=doc, precision=iceberg_type.precision, scale=iceberg_type.scale
        )
    kind = _PRIMITIVES.get(type(iceberg_type))
    if kind is None:
        raise UnsupportedTypeError(f"Column {path}: no BigQuery type for Iceberg {iceberg_type}")
    return SchemaField(name, kind, mode=mode, description=doc)


def _nested(field: NestedField, path: str) -> SchemaField:
    return _field(field.name, field.field_type, field.required, field.doc, path)


def bigquery_schema(schema: Schema) -> list[SchemaField]:
    """The BigQuery schema of an Iceberg schema."""
    return [_nested(field, field.name) for field in schema.fields]


def bigquery_arrow(data: pa.Table | pa.RecordBatch, schema: Schema) -> pa.Table:
    """Arrow data shaped the way BigQuery loads it from Parquet for :func:`bigquery_schema`."""
    table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
    columns = [
        _convert(table.column(field.name).combine_chunks(), field.field_type, field.name) for field in schema.fields
    ]
    return pa.Table.from_arrays(columns, names=[field.name for field in schema.fields])


def _convert(array: pa.Array, iceberg_type: IcebergType, path: str) -> pa.Array:
    if isinstance(iceberg_type, UUIDType):
        return _uuid_text(array)
    if isinstance(iceberg_type, TimestampNanoType | TimestamptzNanoType):
        unit = pa.timestamp("us", tz="UTC" if isinstance(iceberg_type, TimestamptzNanoType) else None)
        return pc.cast(array, unit, safe=False)
    if isinstance(iceberg_type, FixedType):
        return pc.cast(array, pa.binary())
    if isinstance(iceberg_type, ListType):
        values = array.flatten()  # respects slicing and skips the values behind NULL lists
        if values.null_count:
            raise UnsupportedTypeError(f"Column {path}: BigQuery arrays cannot hold NULL elements")
        return pa.ListArray.from_arrays(_offsets(array), _convert(values, iceberg_type.element_type, f"{path}[]"))
    if isinstance(iceberg_type, MapType):
        # Arrow has no list kernels for maps: view the map as a list of key/value structs first.
        as_list = pa.ListArray.from_arrays(
            array.offsets,
            pa.StructArray.from_arrays([array.keys, array.items], names=["key", "value"]),
            mask=array.is_null() if array.null_count else None,
        )
        entries = as_list.flatten()
        keys = _convert(entries.field("key"), iceberg_type.key_type, f"{path}.key")
        items = _convert(entries.field("value"), iceberg_type.value_type, f"{path}.value")
        return pa.ListArray.from_arrays(
            _offsets(as_list), pa.StructArray.from_arrays([keys, items], names=["key", "value"])
        )
    if isinstance(iceberg_type, StructType):
        children = [
            _convert(child, field.field_type, f"{path}.{field.name}")
            for child, field in zip(array.flatten(), iceberg_type.fields, strict=True)
        ]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, names=[f.name for f in iceberg_type.fields], mask=mask)
    return array


def _offsets(array: pa.Array) -> pa.Array:
    """Offsets of a list array in which NULL lists become empty ones (BigQuery has no NULL arrays)."""
    lengths = pc.fill_null(array.value_lengths(), 0).cast(pa.int32())
    return pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths).cast(pa.int32())])


def _uuid_text(array: pa.Array) -> pa.Array:
    import uuid

    storage = array.storage if isinstance(array, pa.ExtensionArray) else array
    return pa.array(
        [None if value is None else str(uuid.UUID(bytes=bytes(value))) for value in storage.to_pylist()],
        type=pa.string(),
    )
