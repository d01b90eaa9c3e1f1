"""Batching changes nothing: the real read models built in batches equal the same
read models built one event at a time, and a batch's view changes written in few
statements equal the same changes run one by one (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

from domain.application import CareEpisodes
from infra.catalog import build_projections
from infra.database import Database
from infra.demo import anchor_on, load
from infra.projection import Engine, EngineOptions
from infra.projection.registry import Registry
from infra.projection.tables import GenerationTables
from infra.settings import Settings
from projections.base import Change, Column, Increment, Projection, Put, Remove, Table
from tests.support.projections import QUICK


def rows_of(db: Database, projection: Projection, generation: int) -> dict[str, Any]:
    """Every row of every view table of one generation, in a comparable order; a
    running total of zero counts as no row (a missing row starts at zero)."""
    tables = GenerationTables(projection, generation, db.dialect)
    found = {}
    with db.reading() as cur:
        for table in projection.tables:
            rows = cur.execute(f"SELECT * FROM {tables.names[table.name]}").fetchall()
            counters = [c.name for c in table.columns if c.name not in table.key]
            found[table.name] = sorted(
                repr(sorted(dict(row).items()))
                for row in rows
                if not table.counters or any(row[c] for c in counters)
            )
    return found


def test_real_read_models_built_in_batches_equal_those_built_event_by_event(
    app: CareEpisodes, settings: Settings
):
    # given demo episodes of every pathway, the read models caught up in batches
    load(app, 60, seed=3, anchor=anchor_on(date(2026, 10, 1)))
    projections = build_projections(settings)
    batched = Engine(app, settings, projections, QUICK)
    batched.catch_up()
    batched.close()
    # when each is rebuilt one event per batch (as the library's runner would)
    registry = Registry(Database(app))
    for projection in projections:
        registry.request_rebuild(projection)
    one_by_one = Engine(
        app, settings, build_projections(settings), EngineOptions(
            batch_size=1, poll_interval_s=0.01, drop_grace_s=3600.0
        ),
    )  # fmt: skip
    one_by_one.catch_up()
    one_by_one.close()
    # then every view table of the new generation holds what the batched one
    # holds (the states may differ in what a projection keeps to save work)
    db = Database(app)
    for projection in projections:
        assert rows_of(db, projection, 2) == rows_of(db, projection, 1), projection.name


class _Rows(Projection):
    """A table of rows to write changes into (its handlers are never called)."""

    name = "rows"
    version = 1
    tables = (
        Table(
            "items",
            (
                Column("item_id", "text", nullable=False),
                Column("episode_id", "text", nullable=False),
                Column("kind", "text"),
                Column("due_at", "timestamp"),
                Column("score", "real"),
            ),
            key=("item_id",),
            indexes=(("episode_id",),),
        ),
    )

    def handle(self, state, event, position):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def _put(item: str, episode: str, kind: str | None, score: float = 1.0) -> Put:
    due = datetime(2026, 11, 1, tzinfo=UTC)
    row = {"item_id": item, "episode_id": episode, "kind": kind, "due_at": due}
    return Put("items", {**row, "score": score})


CHANGES: list[Change] = [
    _put("a", "e1", "task"),
    _put("b", "e1", "task"),
    _put("c", "e2", None),
    Remove("items", {"episode_id": "e1"}),  # takes a and b, and older rows of e1
    _put("a", "e1", "again"),  # after the remove: stays
    Remove("items", {"kind": None}),  # takes c
    _put("d", "e3", "task", 2.5),
    Remove("items", {"score": 2.5}),  # matched as a real: runs in its place
    _put("e", "e3", "task", 2.5),
    _put("f", "e4", "task"),
    _put("f", "e4", "last"),  # the last put of a key wins
    Remove("items", {"episode_id": "e9", "kind": "task"}),
]
STORED: list[Change] = [_put("old", "e1", "task"), _put("keep", "e9", "note")]


def _write(app: CareEpisodes, generation: int, batches: list[list[Change]]) -> Any:
    db = Database(app)
    projection = _Rows()
    tables = GenerationTables(projection, generation, db.dialect)
    with db.writing() as cur:
        for statement in tables.create_statements():
            cur.execute(statement)
        tables.apply(cur, [tables.prepare(c) for c in STORED])
    for batch in batches:
        with db.writing() as cur:
            tables.apply(cur, [tables.prepare(c) for c in batch])
    with db.reading() as cur:
        ids = cur.execute(f"SELECT item_id FROM {tables.names['items']}").fetchall()
    return rows_of(db, projection, generation)["items"], sorted(
        r["item_id"] for r in ids
    )


def test_a_batch_of_changes_written_together_equals_them_written_one_by_one(
    app: CareEpisodes,
):
    together, kept = _write(app, 1, [CHANGES])
    one_by_one, _ = _write(app, 2, [[change] for change in CHANGES])

    assert together == one_by_one
    assert kept == ["a", "e", "f", "keep"]


def _shuffled_changes(seed: int, count: int) -> list[Change]:
    """Puts that move rows between episodes and kinds, and removes by episode,
    by kind, by both and by a real, interleaved: what a big batch of settles holds."""
    rng = random.Random(seed)
    episodes = [f"e{n}" for n in range(8)]
    kinds = ["task", "note", None]
    changes: list[Change] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.65:
            item = f"i{rng.randrange(40)}"
            score = rng.choice([1.0, 2.5])
            changes.append(_put(item, rng.choice(episodes), rng.choice(kinds), score))
        elif roll < 0.8:
            changes.append(Remove("items", {"episode_id": rng.choice(episodes)}))
        elif roll < 0.9:
            changes.append(Remove("items", {"kind": rng.choice(kinds)}))
        elif roll < 0.97:
            match = {"episode_id": rng.choice(episodes), "kind": rng.choice(kinds)}
            changes.append(Remove("items", match))
        else:
            changes.append(Remove("items", {"score": 2.5}))
    return changes


def test_a_long_batch_of_moving_rows_written_together_equals_it_one_by_one(
    app: CareEpisodes,
):
    # given 600 changes where a row's key is put again under another episode or
    # kind, then removes match on its old values and on its new ones
    changes = _shuffled_changes(seed=7, count=600)

    # when they are written as one batch, and one change per transaction
    together, kept = _write(app, 1, [changes])
    one_by_one, _ = _write(app, 2, [[change] for change in changes])

    # then both leave the same rows (and some rows are left to compare)
    assert together == one_by_one
    assert 0 < len(kept) <= 42


class _Wide(Projection):
    """Rows with a JSON column and a quoted name, and counters (never handled)."""

    name = "wide"
    version = 1
    tables = (
        Table(
            "docs",
            (
                Column("doc_id", "text", nullable=False),
                Column("order", "integer", nullable=False),
                Column("body", "json"),
                Column("seen_at", "timestamp"),
            ),
            key=("doc_id",),
        ),
        Table(
            "tally",
            (Column("name", "text", nullable=False), Column("n", "integer")),
            key=("name",),
            counters=True,
        ),
    )

    def handle(self, state, event, position):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def test_more_rows_than_one_statement_takes_arrive_whole_and_in_place(
    app: CareEpisodes,
):
    db = Database(app)
    tables = GenerationTables(_Wide(), 1, db.dialect)
    seen = datetime(2026, 11, 2, 3, 4, 5, 6, tzinfo=UTC)

    def doc(n: int, pass_: int) -> Put:
        body = {"n": n, "pass": pass_, "text": f"päss {pass_} 100% ?"}
        return Put("docs", {"doc_id": f"d{n:05d}", "order": n * pass_,
                            "body": body, "seen_at": seen})  # fmt: skip

    with db.writing() as cur:
        for statement in tables.create_statements():
            cur.execute(statement)
    # given batches wider than one multi-row statement (500 rows), of
    # different widths, the second overwriting part of the first
    for pass_, count in ((1, 1234), (2, 777)):
        changes: list[Change] = [doc(n, pass_) for n in range(count)]
        changes += [Increment("tally", {"name": f"t{n % 1100}"}, {"n": 1})
                    for n in range(count)]  # fmt: skip
        with db.writing(pipelined=True) as cur:
            tables.apply(cur, [tables.prepare(c) for c in changes])
    # then every row holds its own values, whichever statement carried it
    d = db.dialect
    with db.reading() as cur:
        docs = {
            row["doc_id"]: row
            for row in cur.execute(f"SELECT * FROM {tables.names['docs']}").fetchall()
        }
        tally = {
            row["name"]: row["n"]
            for row in cur.execute(f"SELECT * FROM {tables.names['tally']}").fetchall()
        }
    assert len(docs) == 1234
    for n in range(1234):
        pass_ = 2 if n < 777 else 1
        row = docs[f"d{n:05d}"]
        assert row["order"] == n * pass_
        body = d.from_db("json", row["body"])
        assert body == {"n": n, "pass": pass_, "text": f"päss {pass_} 100% ?"}
        assert d.from_db("timestamp", row["seen_at"]) == seen
    expected = {f"t{k}": 0 for k in range(1100)}
    for n in (*range(1234), *range(777)):
        expected[f"t{n % 1100}"] += 1
    assert tally == expected
