"""SQLMesh on DuckDB with every physical table in the Commonlake Iceberg REST catalog.

SQLMesh 0.236's DuckDB support assumes DuckDB-native catalogs. With an attached Iceberg
catalog a few statements fail (measured, see shared/FINDINGS.md); each override below
names the failure it avoids. Selected from ``project_config.py`` for the ``local`` gateway.
"""

from __future__ import annotations

import logging
import threading
import typing as t

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.table import Table
from sqlglot import exp
from sqlmesh.core.config.connection import ConnectionConfig, DuckDBAttachOptions, DuckDBConnectionConfig
from sqlmesh.core.engine_adapter.base import EngineAdapter
from sqlmesh.core.engine_adapter.duckdb import DuckDBEngineAdapter

from commonlake.duckdb_attach import load_iceberg_extensions
from sqlmesh_project.engines.iceberg_overwrite import Replacement, choose_replacement, iceberg_filter, overwrite_files
from sqlmesh_project.engines.refresh_fingerprint import last_fingerprint, refresh_fingerprint

logger = logging.getLogger(__name__)

if t.TYPE_CHECKING:
    from sqlmesh.core._typing import TableName
    from sqlmesh.core.engine_adapter.shared import SourceQuery


class IcebergAttachOptions(DuckDBAttachOptions):
    """An ``ATTACH … (TYPE iceberg, ENDPOINT …)`` of a REST catalog.

    SQLMesh's own attach options render only TYPE and READ_ONLY.
    """

    type: str = "iceberg"
    endpoint: str
    default_schema: str = "main"  # SQLMesh's `USE "ice"` fails without it
    secret: str | None = None
    # CREATE SECRET … statements run before the ATTACH; a tuple because SQLMesh hashes attach options.
    setup_statements: tuple[str, ...] = ()
    # PyIceberg RestCatalog properties of the same catalog (see iceberg_overwrite.py); empty: DuckDB writes only.
    pyiceberg_properties: tuple[tuple[str, str], ...] = ()

    def to_sql(self, alias: str) -> str:
        options = ["TYPE iceberg", f"ENDPOINT '{self.endpoint}'", f"DEFAULT_SCHEMA '{self.default_schema}'"]
        options.append(f"SECRET {self.secret}" if self.secret else "AUTHORIZATION_TYPE 'none'")
        if self.read_only:
            options.append("READ_ONLY")
        return f"ATTACH IF NOT EXISTS '{self.path}' AS {alias} ({', '.join(options)})"


class PyIcebergCatalogs:
    """PyIceberg catalogs of the attached Iceberg REST catalogs, by DuckDB alias, connected on first use."""

    def __init__(self, properties: dict[str, dict[str, str]]) -> None:
        self._properties = properties
        self._catalogs: dict[str, Catalog] = {}
        self._lock = threading.Lock()  # SQLMesh evaluates models in several threads

    def table(self, alias: str, namespace: str, name: str) -> Table | None:
        """The table ``namespace.name`` of the catalog attached as ``alias``; None if there is no such table."""
        properties = self._properties.get(alias)
        if properties is None:
            return None
        with self._lock:
            catalog = self._catalogs.get(alias)
            if catalog is None:
                catalog = self._catalogs[alias] = load_catalog(alias, **properties)
        # DuckDB names a nested namespace by its levels joined with dots ("upstream.marts").
        try:
            return catalog.load_table((*namespace.split("."), name))
        except NoSuchTableError:  # not a table of that catalog (the query will say so, if it reads it)
            return None


class IcebergDuckDBEngineAdapter(DuckDBEngineAdapter):
    """DuckDB adapter that knows some of its catalogs are Iceberg."""

    # "CREATE OR REPLACE not supported in DuckDB-Iceberg": FULL models then use DELETE + INSERT.
    SUPPORTS_REPLACE_TABLE = False

    def set_current_catalog(self, catalog: str) -> None:
        # Once an Iceberg catalog is current, `USE "local"` is read as schema `local` of
        # that catalog ("View with name … already exists" at promotion); name both parts.
        self.execute(f'USE "{catalog}"."main"')

    def _is_iceberg(self, name: t.Any) -> bool:
        catalog = exp.to_table(name).catalog if not isinstance(name, str) or "." in name else None
        return self._get_catalog_type(catalog or self.get_current_catalog()) == "iceberg"

    def _pyiceberg_table(self, table: exp.Table) -> Table | None:
        """The PyIceberg table behind ``table``, when its catalog is an attached Iceberg REST catalog."""
        # Engine config from the connection config; SQLMesh carries it into its adapter copies.
        catalogs: PyIcebergCatalogs | None = self._extra_config.get("pyiceberg_catalogs")
        if catalogs is None or not table.db:
            return None
        return catalogs.table(table.catalog or self.get_current_catalog() or "", table.db, table.name)

    def replace_query(
        self,
        table_name: TableName,
        query_or_df: t.Any,
        target_columns_to_types: dict[str, exp.DataType] | None = None,
        table_description: str | None = None,
        column_descriptions: dict[str, str] | None = None,
        source_columns: list[str] | None = None,
        supports_replace_table_override: bool | None = None,
        **kwargs: t.Any,
    ) -> None:
        """A FULL model's refresh; its first one, into a missing Iceberg table, records a fingerprint too.

        SQLMesh writes a missing table with ``CREATE TABLE … AS query``, which DuckDB commits
        without a refresh fingerprint, so the next refresh rewrote the same rows (every SQL
        FULL model, on the first run after a backfill). Creating the table empty first, with
        the columns and types that CTAS gives it, sends the first write through
        :meth:`_insert_overwrite_by_condition` like every later one.
        """
        target = exp.to_table(table_name)
        try:
            # Cached, so that SQLMesh's own lookup below does not ask the catalog again;
            # creating the table clears the entry, and so does the end of this refresh.
            missing = self.get_data_object(target, safe_to_cache=True) is None
            if isinstance(query_or_df, exp.Query) and missing and self._is_iceberg(target):
                self.ctas(
                    target,
                    exp.select("*").from_(query_or_df.subquery("source")).where(exp.false()),
                    target_columns_to_types,
                    exists=True,
                    table_description=table_description,
                    column_descriptions=column_descriptions,
                    source_columns=source_columns,
                    **kwargs,
                )
            super().replace_query(
                table_name,
                query_or_df,
                target_columns_to_types,
                table_description,
                column_descriptions,
                source_columns,
                supports_replace_table_override,
                **kwargs,
            )
        finally:
            self._clear_data_object_cache(target)

    def _insert_overwrite_by_condition(
        self,
        table_name: TableName,
        source_queries: list[SourceQuery],
        target_columns_to_types: dict[str, exp.DataType] | None = None,
        where: exp.Condition | None = None,
        insert_overwrite_strategy_override: t.Any = None,
        **kwargs: t.Any,
    ) -> None:
        """Replace rows by dropping whole files (or skip the delete) when possible; see iceberg_overwrite.py."""
        target = exp.to_table(table_name)
        iceberg = self._pyiceberg_table(target) if len(source_queries) == 1 else None
        condition = iceberg_filter(where, iceberg.schema()) if iceberg is not None else None
        replacement = choose_replacement(iceberg, condition) if iceberg is not None and condition is not None else None
        if replacement is None or replacement is Replacement.ROW_DELETES:
            super()._insert_overwrite_by_condition(
                table_name, source_queries, target_columns_to_types, where, insert_overwrite_strategy_override, **kwargs
            )
            return
        assert iceberg is not None and condition is not None
        target_columns_to_types = target_columns_to_types or self.columns(target)
        with source_queries[0] as query:
            query = self._order_projections_and_filter(query, target_columns_to_types, where=where)
            if isinstance(where, exp.Between) and isinstance(query, exp.Select):
                # Written in time order, each data file covers a short span of time, so a
                # later range scan (a run's lookback, an interval audit, a downstream
                # model's window) reads the few files of its range. Unordered, DuckDB's
                # threads wrote files that each spanned the whole backfill, and every
                # range scan read all of them.
                query = query.order_by(where.this.copy(), copy=False)
            # A FULL refresh (the whole table replaced) is skipped when its query and inputs are
            # unchanged since it was written; see refresh_fingerprint.py.
            fingerprint = (
                refresh_fingerprint(query, self._pyiceberg_table, self.dialect)
                if isinstance(condition, AlwaysTrue)
                else None
            )
            if fingerprint is not None and fingerprint == last_fingerprint(iceberg):
                logger.info("%s: query and inputs unchanged since its last refresh, not rewritten", target.sql())
                return
            if replacement is Replacement.APPEND and fingerprint is None:
                self._insert_append_query(target, query, target_columns_to_types, order_projections=False)
            else:
                self.execute(query)
                overwrite_files(iceberg, self.cursor.to_arrow_table(), condition, fingerprint)

    def _drop_object(
        self,
        name: t.Any,
        exists: bool = True,
        kind: str = "TABLE",
        cascade: bool = False,
        **drop_args: t.Any,
    ) -> None:
        # "DROP TABLE … CASCADE is not supported for Iceberg tables" (the janitor uses CASCADE).
        if cascade and kind.upper() in ("TABLE", "VIEW", "SCHEMA") and self._is_iceberg(name):
            cascade = False
        super()._drop_object(name=name, exists=exists, kind=kind, cascade=cascade, **drop_args)


class IcebergDuckDBConnectionConfig(DuckDBConnectionConfig):
    """DuckDB connection that loads the Iceberg extensions offline and attaches the catalog."""

    catalogs: dict[str, str | IcebergAttachOptions | DuckDBAttachOptions] | None = None  # type: ignore[assignment]

    # Adapters shared in this process, keyed by everything that makes an attach distinct.
    _adapters: t.ClassVar[dict[tuple[str, ...], EngineAdapter]] = {}

    def _attach_keys(self) -> tuple[str, ...]:
        keys = []
        for options in (self.catalogs or {}).values():
            if isinstance(options, IcebergAttachOptions):
                keys.append(options.model_dump_json())
            else:
                keys.append(options if isinstance(options, str) else options.path)
        return tuple(sorted(keys))

    def create_engine_adapter(
        self, register_comments_override: bool = False, concurrent_tasks: int | None = None
    ) -> EngineAdapter:
        """One adapter per distinct set of attaches in this process.

        SQLMesh shares a DuckDB adapter between configs that attach the same *path*, and the
        path of an Iceberg attach is the warehouse name: a second context for another
        catalog with the same warehouse name (a second node, a test after another) would
        silently run on the first one's ATTACH. The key here includes the endpoint and
        credentials.
        """
        key = self._attach_keys()
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = ConnectionConfig.create_engine_adapter(
                self, register_comments_override, concurrent_tasks=concurrent_tasks
            )
            self._adapters[key] = adapter
        return adapter

    @property
    def _extra_engine_config(self) -> dict[str, t.Any]:
        properties = {
            alias: dict(options.pyiceberg_properties)
            for alias, options in (self.catalogs or {}).items()
            if isinstance(options, IcebergAttachOptions) and options.pyiceberg_properties
        }
        return {**super()._extra_engine_config, "pyiceberg_catalogs": PyIcebergCatalogs(properties)}

    @property
    def _engine_adapter(self) -> type[IcebergDuckDBEngineAdapter]:
        return IcebergDuckDBEngineAdapter

    @property
    def _cursor_init(self) -> t.Callable[[t.Any], None] | None:
        attach = super()._cursor_init

        def init(cursor: t.Any) -> None:
            load_iceberg_extensions(cursor)
            for options in (self.catalogs or {}).values():
                if isinstance(options, IcebergAttachOptions):
                    for statement in options.setup_statements:
                        cursor.execute(statement)
            if attach is not None:
                attach(cursor)

        return init
