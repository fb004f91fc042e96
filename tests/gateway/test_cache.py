"""The snapshot-aware result cache: a repeat is a hit; a new snapshot gives a fresh answer, never a stale one."""

from __future__ import annotations

import pyarrow as pa

from tests.conftest import RunningCatalog
from tests.gateway.conftest import RunningGateway
from tests.gateway.marts import TIMESERIES_SCHEMA, metric_id, project_id


def test_hit_then_new_snapshot_gives_fresh_answer(gateway: RunningGateway, lake: RunningCatalog) -> None:
    catalog = lake.catalog
    catalog.create_table("marts.cache_probe", schema=TIMESERIES_SCHEMA)
    table = catalog.load_table("marts.cache_probe")
    row = {
        "metric_id": [metric_id("commits", "monthly")],
        "project_id": [project_id("new-project")],
        "sample_date": [None],
        "amount": [1.0],
        "unit": ["commits"],
    }
    table.append(pa.table(row, schema=TIMESERIES_SCHEMA))
    query = "SELECT COUNT(*) AS n, SUM(amount) AS total FROM marts.cache_probe"

    first = gateway.sql(query)
    assert first.status_code == 200 and first.json()["rows"] == [[1, 1.0]]
    assert first.json()["stats"]["cached"] is False and first.headers["x-commonlake-cache"] == "miss"
    # The same query, spelled differently, is answered from the cache.
    second = gateway.sql("select count(*) as n,   sum(amount) as total\nfrom MARTS.CACHE_PROBE -- again")
    assert second.json()["rows"] == [[1, 1.0]]
    assert second.json()["stats"]["cached"] is True and second.headers["x-commonlake-cache"] == "hit"

    # Another writer commits a new snapshot: the next answer is fresh, without a restart.
    table.append(pa.table({**row, "amount": [41.0]}, schema=TIMESERIES_SCHEMA))
    new_snapshot = catalog.load_table("marts.cache_probe").current_snapshot().snapshot_id
    third = gateway.sql(query)
    assert third.json()["rows"] == [[2, 42.0]]
    assert third.json()["stats"]["cached"] is False
    assert third.json()["stats"]["tables"]["marts.cache_probe"]["snapshot_id"] == new_snapshot
    assert gateway.sql(query).json()["stats"]["cached"] is True

    # A delete is a new snapshot too.
    table.delete("amount > 40")
    assert gateway.sql(query).json()["rows"] == [[1, 1.0]]

    # Cache-Control: no-cache recomputes even when an entry is valid.
    forced = gateway.sql(query, headers={"Cache-Control": "no-cache"})
    assert forced.json()["stats"]["cached"] is False and forced.json()["rows"] == [[1, 1.0]]


def test_schema_change_without_new_snapshot_is_not_served_from_cache(
    gateway: RunningGateway, lake: RunningCatalog
) -> None:
    catalog = lake.catalog
    table = catalog.create_table("marts.cache_schema", schema=TIMESERIES_SCHEMA)
    table.append(pa.table({name: [None] for name in TIMESERIES_SCHEMA.names}, schema=TIMESERIES_SCHEMA))
    before = gateway.sql("SELECT * FROM marts.cache_schema")
    assert before.json()["columns"] == TIMESERIES_SCHEMA.names
    with table.update_schema() as update:
        from pyiceberg.types import StringType

        update.add_column("note", StringType())
    after = gateway.sql("SELECT * FROM marts.cache_schema")
    assert after.json()["columns"] == [*TIMESERIES_SCHEMA.names, "note"]
    assert after.json()["rows"] == [[None] * 6]


def test_dropped_table_is_not_found_even_when_cached(gateway: RunningGateway, lake: RunningCatalog) -> None:
    catalog = lake.catalog
    table = catalog.create_table("marts.cache_dropped", schema=TIMESERIES_SCHEMA)
    table.append(pa.table({name: [None] for name in TIMESERIES_SCHEMA.names}, schema=TIMESERIES_SCHEMA))
    assert gateway.sql("SELECT COUNT(*) FROM marts.cache_dropped").json()["rows"] == [[1]]
    catalog.drop_table("marts.cache_dropped")
    assert gateway.sql("SELECT COUNT(*) FROM marts.cache_dropped").status_code == 404


def test_a_query_started_on_the_last_known_version_is_not_answered_stale(
    gateway: RunningGateway, lake: RunningCatalog
) -> None:
    # Once a table's version was found unchanged, the next query starts on it before the catalog answers;
    # when the catalog then names a newer version, that early answer must not be the one returned.
    table = lake.catalog.create_table("marts.cache_early", schema=TIMESERIES_SCHEMA)
    row = {name: [None] for name in TIMESERIES_SCHEMA.names} | {"amount": [1.0]}
    table.append(pa.table(row, schema=TIMESERIES_SCHEMA))
    query = "SELECT COUNT(*), SUM(amount) FROM marts.cache_early"
    for _ in range(4):
        assert gateway.sql(query, headers={"Cache-Control": "no-cache"}).json()["rows"] == [[1, 1.0]]
    for count in range(2, 5):
        table.append(pa.table(row | {"amount": [10.0]}, schema=TIMESERIES_SCHEMA))
        fresh = gateway.sql(query, headers={"Cache-Control": "no-cache"}).json()
        assert fresh["rows"] == [[count, 1.0 + 10.0 * (count - 1)]]
        assert fresh["stats"]["tables"]["marts.cache_early"]["snapshot_id"] == table.current_snapshot().snapshot_id
        # Settled again (found unchanged), then early starts are confirmed and used.
        for _ in range(3):
            assert gateway.sql(query, headers={"Cache-Control": "no-cache"}).json()["rows"] == fresh["rows"]
