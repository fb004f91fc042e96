"""SQLMesh on DuckDB with every physical table in the Commonlake Iceberg REST catalog.

SQLMesh 0.236's DuckDB support assumes DuckDB-native catalogs. With an attached Iceberg
catalog a few statements fail (measured, see shared/FINDINGS.md); each override below
names the failure it avoids. Selected from ``project_config.py`` for the ``local`` gateway.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp
from sqlmesh.core.config.connection import ConnectionConfig, DuckDBAttachOptions, DuckDBConnectionConfig
from sqlmesh.core.engine_adapter.base import EngineAdapter
from sqlmesh.core.engine_adapter.duckdb import DuckDBEngineAdapter

from commonlake.duckdb_attach import load_iceberg_extensions


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

    def to_sql(self, alias: str) -> str:
        options = ["TYPE iceberg", f"ENDPOINT '{self.endpoint}'", f"DEFAULT_SCHEMA '{self.default_schema}'"]
        options.append(f"SECRET {self.secret}" if self.secret else "AUTHORIZATION_TYPE 'none'")
        if self.read_only:
            options.append("READ_ONLY")
        return f"ATTACH IF NOT EXISTS '{self.path}' AS {alias} ({', '.join(options)})"


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
