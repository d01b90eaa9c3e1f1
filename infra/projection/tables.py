"""One generation's physical tables: names, DDL, and view changes as SQL."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any, NamedTuple

from infra.database import Cursor
from infra.dialect import Dialect
from projections.base import Change, Increment, Projection, Put, Remove, Table

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names; SQLite follows suit here
STATE_CHUNK = 500
MAX_PARAMS = 30_000  # under SQLite's 32766 and PostgreSQL's 65535 per statement


class Op(NamedTuple):
    """A view change turned into a statement and its parameters."""

    # key: an upsert's key values (None for a delete), so a run of upserts into
    # one table can become multi-row statements, the last put of each key winning;
    # for an increment, the values to add follow the key in `params`.

    statement: str
    params: tuple[object, ...]
    key: tuple[object, ...] | None = None
    adds: bool = False
    table: str = ""
    match: tuple[tuple[int, object], ...] | None = None
    """A Remove's conditions as (column position in a Put's params, stored value),
    when comparing stored values tells exactly which rows it matches."""


class _Rows:
    """A multi-row INSERT: `head`, one `row` of placeholders per row, `tail`; its
    text for n rows in the backend's spelling, each numbered row made once."""

    def __init__(self, head: str, row: str, tail: str, width: int, dialect: Dialect):
        self.head, self.row, self.tail, self.width = head, row, tail, width
        self.dialect = dialect
        self.statement = head + row + tail
        self.chunk = max(1, min(500, MAX_PARAMS // width))
        self._numbered: list[str] = []

    def run(self, cur: Cursor, rows: Sequence[tuple[object, ...]]) -> None:
        """Insert rows, `chunk` per statement."""
        for i in range(0, len(rows), self.chunk):
            chunk = rows[i : i + self.chunk]
            cur.execute_raw(
                self._text(len(chunk)), [value for row in chunk for value in row]
            )

    def _text(self, count: int) -> str:
        numbered = self._numbered
        while len(numbered) < count:
            first = len(numbered) * self.width + 1
            numbered.append(self.dialect.numbered(self.row, first))
        return self.head + ", ".join(numbered[:count]) + self.tail


class Upsert:
    """INSERT … ON CONFLICT DO UPDATE for one table, one or many rows at a time."""

    def __init__(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        dialect: Dialect,
    ):
        names = [name for name, _ in columns]
        rest = [n for n in names if n not in key]
        self._rows = _Rows(
            f"INSERT INTO {table} ({quoted(names)}) VALUES ",
            f"({', '.join(placeholder for _, placeholder in columns)})",
            f" ON CONFLICT ({quoted(key)}) DO "
            + (
                "UPDATE SET " + ", ".join(f'"{n}" = excluded."{n}"' for n in rest)
                if rest
                else "NOTHING"
            ),
            len(names),
            dialect,
        )
        self.statement = self._rows.statement
        self.key_indexes = [names.index(k) for k in key]

    def key_of(self, params: Sequence[object]) -> tuple[object, ...]:
        """The key values of one row's parameters."""
        return tuple(params[i] for i in self.key_indexes)

    def run(self, cur: Cursor, rows: Sequence[tuple[object, ...]]) -> None:
        """Upsert rows, many per statement; at most one row per key (one statement
        may not touch a row twice): the callers keep the last of each key."""
        self._rows.run(cur, rows)


class Accumulate:
    """INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n for a counters table."""

    def __init__(
        self, table: str, key: Sequence[str], counters: Sequence[str], dialect: Dialect
    ):
        names = [*key, *counters]
        self.width = len(key)
        self._rows = _Rows(
            f"INSERT INTO {table} ({quoted(names)}) VALUES ",
            f"({', '.join('?' * len(names))})",
            f" ON CONFLICT ({quoted(key)}) DO UPDATE SET "
            + ", ".join(f'"{n}" = {table}."{n}" + excluded."{n}"' for n in counters),
            len(names),
            dialect,
        )
        self.statement = self._rows.statement

    def run(self, cur: Cursor, rows: Iterable[tuple[object, ...]]) -> None:
        """Add each row's amounts, summed per key first (one statement may not
        touch a row twice)."""
        totals: dict[tuple[object, ...], list[Any]] = {}
        for row in rows:
            key, amounts = row[: self.width], row[self.width :]
            total = totals.setdefault(key, [0] * len(amounts))
            for i, amount in enumerate(amounts):
                total[i] += amount
        self._rows.run(cur, [(*key, *amounts) for key, amounts in totals.items()])


def quoted(names: Sequence[str]) -> str:
    """Column names quoted (a column may be called "order" or "user"), comma-joined."""
    return ", ".join(f'"{name}"' for name in names)


def _identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a lower-case SQL identifier")
    if len(name) > MAX_IDENTIFIER:
        raise ValueError(f"{name!r} is longer than {MAX_IDENTIFIER} characters")
    return name


def physical_name(projection: str, generation: int, table: str) -> str:
    """The table that holds `table` of one generation of `projection`."""
    return _identifier(f"pv_{projection}_g{generation}_{table}")


def states_name(projection: str, generation: int) -> str:
    """The table of per-key states of one generation of `projection`."""
    return _identifier(f"pv_{projection}_g{generation}__states")


class _PendingPuts:
    """The puts of a run not yet written, last put per key, found by the values a
    remove matches without scanning them all (a batch can hold thousands)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[object, ...], tuple[object, ...]] = {}
        # Per set of column positions some remove matched on: the keys of the
        # pending rows by their values at those positions.
        self._indexes: dict[
            tuple[int, ...], dict[tuple[object, ...], set[tuple[object, ...]]]
        ] = {}

    def __bool__(self) -> bool:
        return bool(self._rows)

    def rows(self) -> list[tuple[object, ...]]:
        """The pending rows, one per key."""
        return list(self._rows.values())

    def put(self, key: tuple[object, ...], params: tuple[object, ...]) -> None:
        """A row replaces the pending row of its key."""
        self._forget(key)
        self._rows[key] = params
        for positions, index in self._indexes.items():
            index.setdefault(tuple(params[i] for i in positions), set()).add(key)

    def remove_matching(self, match: tuple[tuple[int, object], ...]) -> None:
        """Drop the pending rows whose values equal `match` (position, value)."""
        positions = tuple(i for i, _ in match)
        index = self._indexes.get(positions)
        if index is None:
            index = {}
            for key, params in self._rows.items():
                index.setdefault(tuple(params[i] for i in positions), set()).add(key)
            self._indexes[positions] = index
        for key in list(index.get(tuple(value for _, value in match), ())):
            self._forget(key)

    def clear(self) -> None:
        self._rows.clear()
        self._indexes.clear()

    def _forget(self, key: tuple[object, ...]) -> None:
        params = self._rows.pop(key, None)
        if params is None:
            return
        for positions, index in self._indexes.items():
            values = tuple(params[i] for i in positions)
            keys = index[values]
            keys.discard(key)
            if not keys:
                del index[values]


class GenerationTables:
    """The tables of one projection generation, and how changes reach them."""

    def __init__(self, projection: Projection, generation: int, dialect: Dialect):
        self.dialect = dialect
        self.declared: dict[str, Table] = {t.name: t for t in projection.tables}
        self.names = {
            t.name: physical_name(projection.name, generation, t.name)
            for t in projection.tables
        }
        self.states = states_name(projection.name, generation)
        for table in projection.tables:
            for column in table.columns:
                _identifier(column.name)
            if not table.key or not set(table.key) <= {c.name for c in table.columns}:
                raise ValueError(f"{table.name}: the key must name its columns")
        self._upserts = {
            t.name: self._upsert(t) for t in projection.tables if not t.counters
        }
        self._accumulators = {
            t.name: Accumulate(
                self.names[t.name],
                t.key,
                [c.name for c in t.columns if c.name not in t.key],
                dialect,
            )
            for t in projection.tables
            if t.counters
        }
        self._by_statement: dict[str, Upsert | Accumulate] = {
            u.statement: u for u in self._upserts.values()
        }
        self._by_statement.update({a.statement: a for a in self._accumulators.values()})
        self._column_names = {
            t.name: frozenset(c.name for c in t.columns) for t in projection.tables
        }
        # Per table, each column as (name, type, whether it must hold a value).
        self._put_columns = {
            t.name: [
                (c.name, c.type, not c.nullable or c.name in t.key) for c in t.columns
            ]
            for t in projection.tables
        }
        # Per counters table: its key columns (name, type), its counters, and
        # both as sets.
        self._counter_columns = {
            t.name: (
                [(n, t.column(n).type) for n in t.key],
                [c.name for c in t.columns if c.name not in t.key],
                frozenset(c.name for c in t.columns if c.name not in t.key),
                frozenset(t.key),
            )
            for t in projection.tables
            if t.counters
        }
        self._states_upsert = Upsert(
            self.states, [("state_key", "?"), ("state", "?")], ["state_key"], dialect
        )

    def create_statements(self) -> list[str]:
        """DDL for every table of the generation, states included."""
        d = self.dialect
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.states} "
            f"(state_key {d.types['text']} PRIMARY KEY, state {d.blob} NOT NULL)"
        ]
        for table in self.declared.values():
            name = self.names[table.name]
            columns = ", ".join(
                f'"{c.name}" {d.types[c.type]}' + ("" if c.nullable else " NOT NULL")
                for c in table.columns
            )
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {name} "
                f"({columns}, PRIMARY KEY ({quoted(table.key)}))"
            )
            for number, index in enumerate(table.indexes, start=1):
                statements.append(
                    f"CREATE INDEX IF NOT EXISTS {_identifier(f'{name}_i{number}')} "
                    f"ON {name} ({quoted(index)})"
                )
        return statements

    def prepare(self, change: Change) -> Op:
        """Check a change against the table declarations and turn it into SQL."""
        table = self.declared.get(change.table)
        if table is None:
            raise ValueError(f"no table {change.table!r} in this projection")
        if isinstance(change, Increment):
            return self._increment(table, change)
        if table.counters:
            raise ValueError(f"{table.name} holds counters: change it by Increment")
        values = change.row if isinstance(change, Put) else change.match
        if not values.keys() <= self._column_names[table.name]:
            unknown = set(values) - self._column_names[table.name]
            raise ValueError(f"{table.name} has no column(s) {sorted(unknown)}")
        if isinstance(change, Put):
            upsert = self._upserts[table.name]
            params = self._put_params(table, change.row)
            return Op(upsert.statement, params, upsert.key_of(params), table=table.name)
        if isinstance(change, Remove):
            return self._remove(table, change.match)
        raise TypeError(f"{change!r} is not a Put or a Remove")

    def apply(self, cur: Cursor, ops: Iterable[Op]) -> None:
        """Run the changes with the effect of running them in order, table by
        table (tables are independent), in as few statements as that allows;
        the increments (which commute) last, summed per row."""
        ops = list(ops)
        per_table: dict[str, list[Op]] = {}
        for op in ops:
            if not op.adds:
                per_table.setdefault(op.table, []).append(op)
        for table, run in per_table.items():
            self._apply_table(cur, self._upserts[table], run)
        increments: dict[str, list[tuple[object, ...]]] = {}
        for op in ops:
            if op.adds:
                increments.setdefault(op.statement, []).append(op.params)
        for statement, rows in increments.items():
            self._by_statement[statement].run(cur, rows)

    @staticmethod
    def _apply_table(cur: Cursor, upsert: Upsert, run: list[Op]) -> None:
        # Removes first, then the puts that no later remove undoes, gives what
        # the changes in order give: a put that a later remove matches is
        # dropped (the remove deletes that row anyway), and a put after a
        # remove survives it. A remove whose matches cannot be told from the
        # stored values (JSON, real) runs in its place, after what preceded it.
        removes: list[Op] = []
        puts = _PendingPuts()

        def flush() -> None:
            for statement, same in groupby(removes, key=lambda op: op.statement):
                cur.executemany(statement, [op.params for op in same])
            if puts:
                upsert.run(cur, puts.rows())
            removes.clear()
            puts.clear()

        for op in run:
            if op.key is not None:
                puts.put(op.key, op.params)
            elif op.match is None:
                flush()
                cur.execute(op.statement, op.params)
            else:
                puts.remove_matching(op.match)
                removes.append(op)
        flush()

    def load_states(self, cur: Cursor, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored states of the given keys (absent ones are left out)."""
        states: dict[str, bytes] = {}
        for i in range(0, len(keys), STATE_CHUNK):
            chunk = keys[i : i + STATE_CHUNK]
            cur.execute(
                f"SELECT state_key, state FROM {self.states} "
                f"WHERE state_key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            states.update((r["state_key"], bytes(r["state"])) for r in cur.fetchall())
        return states

    def save_states(self, cur: Cursor, states: Mapping[str, bytes | None]) -> None:
        """Store new states; None removes a key's state."""
        kept = [(k, v) for k, v in states.items() if v is not None]  # one per key
        gone = [(k,) for k, v in states.items() if v is None]
        if kept:
            self._states_upsert.run(cur, kept)
        if gone:
            cur.executemany(f"DELETE FROM {self.states} WHERE state_key = ?", gone)

    def _upsert(self, table: Table) -> Upsert:
        columns = [
            (c.name, self.dialect.value_placeholder(c.type)) for c in table.columns
        ]
        return Upsert(self.names[table.name], columns, table.key, self.dialect)

    def _put_params(
        self, table: Table, row: Mapping[str, object]
    ) -> tuple[object, ...]:
        to_db = self.dialect.to_db
        params: list[object] = []
        for name, column_type, required in self._put_columns[table.name]:
            value = row.get(name)
            if value is None:
                if required:
                    raise ValueError(f"{table.name}.{name} may not be null")
                params.append(None)
            elif type(value) is str and column_type == "text" and "\x00" not in value:
                params.append(value)  # the commonest case, as to_db has it
            else:
                params.append(to_db(column_type, value))
        return tuple(params)

    def _increment(self, table: Table, change: Increment) -> Op:
        if not table.counters:
            raise ValueError(f"{table.name} holds no counters: Increment needs them")
        key_columns, counters, counter_names, key_names = self._counter_columns[
            table.name
        ]
        key, add = change.key, change.add
        if key.keys() != key_names:
            raise ValueError(f"an Increment of {table.name} names its key {table.key}")
        if not add.keys() <= counter_names:
            unknown = set(add) - counter_names
            raise ValueError(f"{table.name} has no counter(s) {sorted(unknown)}")
        to_db = self.dialect.to_db
        params = [to_db(column_type, key[name]) for name, column_type in key_columns]
        for name in counters:
            amount = add.get(name, 0)
            params.append(
                amount if type(amount) is int else self._amount(table, name, amount)
            )
        statement = self._accumulators[table.name].statement
        return Op(statement, tuple(params), adds=True)

    @staticmethod
    def _amount(table: Table, name: str, amount: object) -> int:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValueError(f"{table.name}.{name} adds whole numbers, not {amount!r}")
        return amount

    def _remove(self, table: Table, match: Mapping[str, object]) -> Op:
        if not match:
            raise ValueError(f"a Remove from {table.name} must match some column")
        conditions, params = [], []
        positions = [c.name for c in table.columns]
        exact: list[tuple[int, object]] | None = []
        for name, value in sorted(match.items()):
            column = table.column(name)
            stored = self.dialect.to_db(column.type, value)
            if value is None:
                conditions.append(f'"{name}" IS NULL')
            else:
                conditions.append(f'"{name}" = ?')
                params.append(stored)
            if exact is not None and column.type in ("json", "real"):
                exact = None  # equal as JSON or floats is not equal as Python
            elif exact is not None:
                exact.append((positions.index(name), stored))
        statement = (
            f"DELETE FROM {self.names[table.name]} WHERE {' AND '.join(conditions)}"
        )
        return Op(
            statement,
            tuple(params),
            table=table.name,
            match=None if exact is None else tuple(exact),
        )
