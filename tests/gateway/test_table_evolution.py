"""Tables whose files cannot be read by column name: renamed columns, and delete files written by DuckDB."""

from __future__ import annotations

import pyarrow as pa

from commonlake.duckdb_attach import connect
from tests.conftest import RunningCatalog
from tests.gateway.conftest import RunningGateway

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("amount", pa.float64())])


def test_renamed_column_reads_by_field_id(gateway: RunningGateway, lake: RunningCatalog) -> None:
    table = lake.catalog.create_table("marts.evolve_rename", schema=SCHEMA)
    table.append(pa.table({"id": [1, 2], "name": ["a", "b"], "amount": [1.0, 2.0]}, schema=SCHEMA))
    with table.update_schema() as update:
        update.rename_column("name", "label")
    table = lake.catalog.load_table("marts.evolve_rename")
    renamed = pa.schema([("id", pa.int64()), ("label", pa.string()), ("amount", pa.float64())])
    table.append(pa.table({"id": [3], "label": ["c"], "amount": [3.0]}, schema=renamed))
    response = gateway.sql("SELECT id, label FROM marts.evolve_rename WHERE id >= 2 ORDER BY id")
    assert response.status_code == 200, response.text
    # Old files still say `name`: read by field id, the values come back under `label`.
    assert response.json()["rows"] == [[2, "b"], [3, "c"]]
    expected = table.scan(row_filter="id >= 2").to_arrow().sort_by("id")
    assert [r[1] for r in response.json()["rows"]] == expected["label"].to_pylist()


def test_positional_deletes_from_duckdb_are_applied(gateway: RunningGateway, lake: RunningCatalog) -> None:
    table = lake.catalog.create_table("marts.evolve_deletes", schema=SCHEMA)
    rows = pa.table({"id": list(range(100)), "name": ["x"] * 100, "amount": [1.0] * 100}, schema=SCHEMA)
    table.append(rows)
    assert gateway.sql("SELECT COUNT(*) FROM marts.evolve_deletes").json()["rows"] == [[100]]
    duck = connect(lake.settings, alias="lake")
    try:
        duck.execute("DELETE FROM lake.marts.evolve_deletes WHERE id % 10 = 0")
    finally:
        duck.close()
    table = lake.catalog.load_table("marts.evolve_deletes")
    assert any(task.delete_files for task in table.scan().plan_files()), "DuckDB should write delete files"
    expected = table.scan().to_arrow()
    response = gateway.sql("SELECT COUNT(*), SUM(id) FROM marts.evolve_deletes")
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [[expected.num_rows, sum(expected["id"].to_pylist())]] == [[90, 4500]]
    filtered = gateway.sql("SELECT id FROM marts.evolve_deletes WHERE id < 25 ORDER BY id").json()["rows"]
    assert [r[0] for r in filtered] == [i for i in range(25) if i % 10]
