"""File pruning from the query's predicates: fewer files read, identical answers."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.expressions import AlwaysTrue

from query_gateway.pruning import row_filters
from query_gateway.statements import parse_statement
from tests.conftest import RunningCatalog
from tests.gateway.conftest import RunningGateway
from tests.gateway.marts import PROJECTS, FixtureMarts, metric_id, project_id

SERIES = "marts.timeseries_metrics_by_project_v0"


def _filters(sql: str, columns: dict[str, set[str]]) -> dict[str, str]:
    statement = parse_statement(sql)
    found = row_filters(statement, lambda ref: columns[ref.qualified])
    return {ref.qualified: repr(expr) for ref, expr in found.items()}


COLUMNS = {
    "marts.a": {"id", "x", "day"},
    "marts.b": {"id", "y"},
}


def test_translates_comparisons_in_between_null_and_prefix() -> None:
    found = _filters(
        "SELECT * FROM marts.a WHERE id = 'p1' AND x >= 3 AND day BETWEEN DATE '2025-01-01' AND '2025-02-01' "
        "AND x IN (1, 2, 3) AND id LIKE 'abc%' AND x IS NOT NULL AND 5 > x",
        COLUMNS,
    )["marts.a"]
    for part in ("EqualTo", "GreaterThanOrEqual", "LessThanOrEqual", "In(", "StartsWith", "NotNull", "LessThan("):
        assert part in found, found


def test_or_of_understood_parts_is_kept_and_not_understood_parts_are_dropped() -> None:
    assert "Or(" in _filters("SELECT * FROM marts.a WHERE id = 'p1' OR id = 'p2'", COLUMNS)["marts.a"]
    # One side of the OR is not a simple predicate: the whole OR cannot prune.
    assert _filters("SELECT * FROM marts.a WHERE id = 'p1' OR length(id) = 3", COLUMNS)["marts.a"] == repr(AlwaysTrue())
    # A float literal could be rounded against an integer column: left to DataFusion.
    assert _filters("SELECT * FROM marts.a WHERE x > 1.5", COLUMNS)["marts.a"] == repr(AlwaysTrue())


def test_join_sides() -> None:
    inner = _filters("SELECT * FROM marts.a JOIN marts.b ON a.id = b.id WHERE a.x = 1 AND b.y = 2", COLUMNS)
    assert "x" in inner["marts.a"] and "y" in inner["marts.b"]
    # b is on the nullable side: WHERE b.y IS NULL keeps unmatched rows of a; pruning b would change the answer.
    left = _filters("SELECT * FROM marts.a LEFT JOIN marts.b ON a.id = b.id WHERE b.y IS NULL AND a.x = 1", COLUMNS)
    assert left["marts.b"] == repr(AlwaysTrue()) and "x" in left["marts.a"]
    # ...but the ON clause of a LEFT JOIN filters b before the join.
    on = _filters("SELECT * FROM marts.a LEFT JOIN marts.b ON a.id = b.id AND b.y = 7", COLUMNS)
    assert "y" in on["marts.b"]
    # Unqualified columns with two tables in scope are ambiguous without both schemas: not used.
    assert _filters("SELECT * FROM marts.a, marts.b WHERE x = 1", COLUMNS)["marts.a"] == repr(AlwaysTrue())


def test_a_table_read_twice_is_pruned_by_the_or_of_both_reads() -> None:
    both = _filters("SELECT * FROM marts.a WHERE id = 'p1' UNION ALL SELECT * FROM marts.a WHERE id = 'p2'", COLUMNS)[
        "marts.a"
    ]
    assert both.startswith("Or(") and "p1" in both and "p2" in both
    one_unfiltered = _filters("SELECT * FROM marts.a WHERE id = 'p1' UNION ALL SELECT * FROM marts.a", COLUMNS)
    assert one_unfiltered["marts.a"] == repr(AlwaysTrue())


def test_point_lookup_reads_one_file_and_equals_pyiceberg(
    gateway: RunningGateway, lake: RunningCatalog, fixture_marts: FixtureMarts
) -> None:
    target = project_id(PROJECTS[2])
    response = gateway.sql(f"SELECT * FROM {SERIES} WHERE project_id = '{target}' ORDER BY metric_id, sample_date")
    assert response.status_code == 200, response.text
    scan = response.json()["stats"]["tables"][SERIES]
    assert scan["files_total"] == fixture_marts.timeseries_files == len(PROJECTS)
    assert scan["files_scanned"] == 1
    assert response.headers["x-commonlake-files-scanned"] == f"{SERIES}=1/{len(PROJECTS)}"
    expected = lake.catalog.load_table(SERIES).scan().to_arrow()
    expected = expected.filter(pa.compute.equal(expected["project_id"], target))
    expected = expected.sort_by([("metric_id", "ascending"), ("sample_date", "ascending")])
    assert [r[3] for r in response.json()["rows"]] == expected["amount"].to_pylist()
    assert len(response.json()["rows"]) == expected.num_rows > 0


@pytest.mark.parametrize(
    ("where", "files"),
    [
        (f"project_id IN ('{project_id(PROJECTS[0])}', '{project_id(PROJECTS[1])}')", 2),
        (f"project_id = '{project_id(PROJECTS[0])}' OR project_id = '{project_id(PROJECTS[4])}'", 2),
        (f"project_id = '{project_id(PROJECTS[0])}' AND sample_date >= DATE '2025-03-01'", 1),
        ("sample_date >= DATE '2025-03-01'", len(PROJECTS)),  # every file has those dates
        ("project_id = 'no-such-project'", 0),
        ("amount > 0", len(PROJECTS)),
    ],
)
def test_pruned_answers_equal_unpruned(gateway: RunningGateway, where: str, files: int) -> None:
    pruned = gateway.sql(
        f"SELECT metric_id, project_id, sample_date, amount FROM {SERIES} WHERE {where} ORDER BY 1,2,3"
    )
    assert pruned.status_code == 200, pruned.text
    assert pruned.json()["stats"]["tables"][SERIES]["files_scanned"] == files
    # The same filter written so the pruner cannot use it (inside a CASE) reads every file.
    unpruned = gateway.sql(
        f"SELECT metric_id, project_id, sample_date, amount FROM {SERIES} "
        f"WHERE CASE WHEN {where} THEN true ELSE false END ORDER BY 1,2,3"
    )
    assert unpruned.json()["stats"]["tables"][SERIES]["files_scanned"] == len(PROJECTS)
    assert pruned.json()["rows"] == unpruned.json()["rows"]


def test_left_join_with_is_null_keeps_unmatched_rows(gateway: RunningGateway) -> None:
    # Projects without a monthly stars series: none here, so all five join; with a metric no project has, all five
    # come back unmatched. Pruning the nullable side by the WHERE would drop them.
    missing_metric = metric_id("stars", "daily")
    response = gateway.sql(
        "SELECT p.project_name FROM marts.projects_v1 p "
        f"LEFT JOIN {SERIES} t ON t.project_id = p.project_id AND t.metric_id = '{missing_metric}' "
        "WHERE t.metric_id IS NULL ORDER BY 1"
    )
    assert response.status_code == 200, response.text
    assert [r[0] for r in response.json()["rows"]] == sorted(PROJECTS)


def test_partition_pruning_on_a_month_partitioned_table(gateway: RunningGateway, lake: RunningCatalog) -> None:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import MonthTransform

    from tests.gateway.marts import MONTHS, TIMESERIES_SCHEMA

    source = lake.catalog.load_table(SERIES)
    data = source.scan().to_arrow().cast(TIMESERIES_SCHEMA)
    field_id = source.schema().find_field("sample_date").field_id
    spec = PartitionSpec(PartitionField(source_id=field_id, field_id=1000, transform=MonthTransform(), name="month"))
    table = lake.catalog.create_table("marts.series_by_month", schema=source.schema(), partition_spec=spec)
    table.append(data)  # one file per month
    files = len(list(table.scan().plan_files()))
    assert files == len(MONTHS)
    response = gateway.sql(
        "SELECT COUNT(*), SUM(amount) FROM marts.series_by_month "
        "WHERE sample_date >= DATE '2025-03-01' AND sample_date < DATE '2025-05-01'"
    )
    assert response.status_code == 200, response.text
    scan = response.json()["stats"]["tables"]["marts.series_by_month"]
    assert (scan["files_scanned"], scan["files_total"]) == (2, len(MONTHS))
    rows = [r for r in data.to_pylist() if "2025-03-01" <= r["sample_date"].isoformat() < "2025-05-01"]
    assert response.json()["rows"] == [[len(rows), sum(r["amount"] for r in rows)]]
