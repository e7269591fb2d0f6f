"""The analytics warehouse: one Ibis connection and the canonical tables in it.

The analytics are Ibis expressions, so the warehouse can be a DuckDB file (the default), a
PostgreSQL database, SQLite, or a Spark session; this module is the only place that knows how
to reach one and how the canonical tables are laid out there. Each canonical table carries the
columns of the data contract plus ``row_key`` (the natural key as one string, for idempotent
upserts) and ``source_file`` / ``source_line`` (so every stored row can be traced to its input).

On PostgreSQL the analytics tables live in their own schema (``clm_analytics``), apart from the
operational store's tables (stack.md: an ``orders`` table collided with a migration).

On DuckDB the connection gets a memory limit (``CLM_DUCKDB_MEMORY_LIMIT``; DuckDB's own default
is 80% of RAM, which let a 43M-row import reach 8.5 GB) and spills to ``<file>.tmp`` beyond it.
The fact tables are stored in an order that suits the features (:data:`CLUSTER_KEYS`): orders
and interactions by customer and time, since the features group them by customer (the same
aggregate over 20M orders took 1.24 s on an ordered table against 2.9 s in file order), events
by month first, since a backfill reads them a window at a time. Nothing may depend on that
order; it only makes scans cheaper.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from clm.config import DEFAULT_DUCKDB_MEMORY_LIMIT
from clm.domain.contract import TABLES, TableContract
from clm.errors import ConfigError, UnsupportedError

_TYPES = {"string": dt.string, "date": dt.date, "timestamp": dt.timestamp, "float": dt.float64}
TRACE_COLUMNS: dict[str, dt.DataType] = {
    "row_key": dt.string,
    "source_file": dt.string,
    "source_line": dt.int64,
}
PG_SCHEMA = "clm_analytics"
# The physical order of the fact tables on DuckDB, as SQL sort keys. Orders and interactions:
# (customer, time), the GROUP BY of every feature. Events: month, then customer and time. The
# events are the largest table a backfill step reads by date (the 90-day window, the 30-day
# distinct features), and month-major storage lets those scans skip the row groups of other
# months (zone maps); within a month the rows stay grouped by customer. Measured at 1M
# customers, December step: the state query 2.5-2.9 s against 2.8-3.2 s, the stages query
# 1.6-2.0 s against 1.8-2.3 s; the one-date features + stages over the whole history within
# the noise (6.8-8.2 s against 6.9-8.8 s). Orders kept customer-major: month-major for all
# three slowed the whole-history aggregate from 0.97 to 1.63 s (docs/performance.md).
CLUSTER_KEYS: dict[str, tuple[str, ...]] = {
    "orders": ('"customer_id"', '"ordered_at"'),
    "events": ("date_trunc('month', \"occurred_at\")", '"customer_id"', '"occurred_at"'),
    "interactions": ('"customer_id"', '"occurred_at"'),
}


def canonical_schema(contract: TableContract) -> ibis.Schema:
    """The warehouse schema of an input table: contract columns, then trace columns."""
    fields: dict[str, dt.DataType] = {c.name: _TYPES[c.type] for c in contract.columns}
    fields.update(TRACE_COLUMNS)
    return ibis.schema(fields)


class Warehouse:
    """An Ibis backend plus the namespace clm's tables live in."""

    def __init__(self, con: Any, *, database: str | None = None, url: str = "",
                 memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT) -> None:
        self.con = con
        self.database = database
        self.url = url
        # The DuckDB budget: the warehouse connection's limit when it is DuckDB, and what an
        # import's staging DuckDB may use whatever the backend (see clm.ingest.importer).
        self.memory_limit = memory_limit
        self._in_transaction = False
        if con.name == "duckdb":
            con.con.execute("SET memory_limit = '" + memory_limit.replace("'", "''") + "'")

    # -- construction -------------------------------------------------------------------
    @classmethod
    def connect(cls, url: str, *, schema: str = PG_SCHEMA,
                memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT) -> Warehouse:
        """Open the warehouse at an Ibis URL (``duckdb://path``, ``postgres://...``).

        On PostgreSQL the tables go into ``schema`` (created if missing); tests pass their own.
        ``memory_limit`` (a size such as ``2GB``) caps DuckDB's memory: the connection's when
        the warehouse is DuckDB, and the import's staging connection's in any case.
        """
        if url.startswith("duckdb://"):
            path = url.removeprefix("duckdb://")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            con = ibis.connect(url)
        except Exception as exc:  # ibis raises backend-specific errors
            raise ConfigError(
                f"cannot open warehouse {url!r}: {exc}", field="warehouse_url"
            ) from None
        database = None
        if con.name == "postgres":
            con.raw_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            database = schema
        try:
            return cls(con, database=database, url=url, memory_limit=memory_limit)
        except Exception as exc:  # duckdb rejects a size it cannot parse
            raise ConfigError(
                f"DuckDB memory limit {memory_limit!r}: {exc}", field="duckdb_memory_limit"
            ) from None

    @classmethod
    def in_memory(cls) -> Warehouse:
        """A throwaway DuckDB warehouse (tests, previews)."""
        return cls(ibis.duckdb.connect(), url="duckdb://:memory:")

    @property
    def backend_name(self) -> str:
        return self.con.name

    # -- tables -------------------------------------------------------------------------
    def has_table(self, name: str) -> bool:
        return name in self.con.list_tables(database=self.database)

    def table(self, name: str) -> ir.Table:
        return self.con.table(name, database=self.database)

    def cluster_key(self, name: str) -> tuple[str, ...]:
        """The SQL sort keys ``name`` is stored ordered by; empty where the order is not kept.

        Only DuckDB keeps it: its scans read row groups in storage order. PostgreSQL would need
        ``CLUSTER`` (an exclusive lock and a full rewrite on every import, not measured here),
        so it keeps the order rows arrive in.
        """
        if self.backend_name != "duckdb":
            return ()
        return CLUSTER_KEYS.get(name, ())

    def ensure_input_tables(self) -> None:
        """Create the four canonical input tables, empty, where they do not exist yet."""
        for contract in TABLES.values():
            if not self.has_table(contract.name):
                self.con.create_table(
                    contract.name, schema=canonical_schema(contract), database=self.database
                )

    def input_tables(self) -> dict[str, ir.Table]:
        """The canonical input tables by name (customers, orders, events, interactions)."""
        self.ensure_input_tables()
        return {name: self.table(name) for name in TABLES}

    def create(
        self,
        name: str,
        obj: Any = None,
        *,
        schema: ibis.Schema | None = None,
        overwrite: bool = False,
    ) -> ir.Table:
        return self.con.create_table(
            name, obj, schema=schema, database=self.database, overwrite=overwrite
        )

    def insert(self, name: str, obj: Any) -> None:
        self.con.insert(name, obj, database=self.database)

    def upsert(self, name: str, obj: Any, *, on: str = "row_key") -> None:
        """Insert rows, replacing those whose ``on`` key already exists."""
        self.con.upsert(name, obj, on=on, database=self.database)

    def drop_schema(self) -> None:
        """Drop this warehouse's PostgreSQL schema with everything in it (test clean-up)."""
        if self.backend_name == "postgres" and self.database:
            self.con.raw_sql(f'DROP SCHEMA IF EXISTS "{self.database}" CASCADE')

    def delete_where(self, name: str, **equals: Any) -> None:
        """Delete the rows of ``name`` whose columns equal the given values (history rewrites)."""
        import sqlglot.expressions as sge

        if self.backend_name not in {"duckdb", "postgres", "sqlite"}:
            raise UnsupportedError(f"deleting rows is not supported on {self.backend_name}")
        cond = sge.and_(
            *(
                sge.EQ(this=sge.column(k, quoted=True), expression=sge.convert(v))
                for k, v in equals.items()
            )
        )
        table = sge.table_(name, db=self.database, quoted=True)
        self.con.raw_sql(sge.delete(table, where=cond).sql(dialect=self.con.dialect))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around a batch of statements on DuckDB: all or nothing, and the
        rows written reach storage once, at the commit (measured: 12 inserts of 150k stage
        transitions cost a third less inside one transaction). Inside one already open, the
        statements join it; on other backends each statement commits on its own.

        Keep heavy queries out of it where they can be: temporary tables created inside a
        transaction live in its local storage, and a backfill's steps ran a fifth slower
        there (``services.history``: the writes are gathered first, then stored in one).
        """
        if self.backend_name != "duckdb" or self._in_transaction:
            yield
            return
        self.con.raw_sql("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self.con.raw_sql("ROLLBACK")
            raise
        else:
            self.con.raw_sql("COMMIT")
        finally:
            self._in_transaction = False

    def drop(self, name: str) -> None:
        self.con.drop_table(name, database=self.database, force=True)

    def execute_scalar(self, expr: ir.Scalar) -> Any:
        return self.con.execute(expr)

    def counts(self) -> Mapping[str, int]:
        return {name: int(t.count().execute()) for name, t in self.input_tables().items()}
