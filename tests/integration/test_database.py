"""The application's own transactions: a pipelined write is still one transaction
whose statements run in order, whose rowcounts are known after a sync, and which
a failing statement rolls back whole; reads outside a transaction see commits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.persistence import PersistenceError

from domain.application import CareEpisodes
from infra.database import Database


@pytest.fixture
def db(app: CareEpisodes) -> Iterator[Database]:
    database = Database(app)
    with database.writing() as cur:
        cur.execute("CREATE TABLE pipelined (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    yield database
    with database.writing() as cur:
        cur.execute("DROP TABLE pipelined")


def rows(db: Database) -> list[tuple[str, int]]:
    with db.querying() as cur:
        found = cur.execute("SELECT k, n FROM pipelined ORDER BY k").fetchall()
    return [(r["k"], r["n"]) for r in found]


def test_a_pipelined_write_runs_its_statements_in_order_and_counts_after_a_sync(
    db: Database,
):
    # given two rows
    with db.writing() as cur:
        cur.executemany("INSERT INTO pipelined VALUES (?, ?)", [("a", 1), ("b", 2)])
    # when a pipelined transaction updates one, on a cursor of its own, then
    # changes it again, and an update that matches nothing, before it syncs
    with db.writing(pipelined=True) as cur:
        first, none = cur.another(), cur.another()
        first.execute("UPDATE pipelined SET n = n + 10 WHERE k = ?", ("a",))
        none.execute("UPDATE pipelined SET n = 0 WHERE k = ?", ("zz",))
        cur.execute("UPDATE pipelined SET n = n * 2 WHERE k = ?", ("a",))
        cur.sync()
        counts = (first.rowcount, none.rowcount, cur.rowcount)
    # then each cursor kept its own count, and the changes ran in order
    assert counts == (1, 0, 1)
    assert rows(db) == [("a", 22), ("b", 2)]


def test_a_failing_statement_rolls_the_whole_pipelined_write_back(db: Database):
    with db.writing() as cur:
        cur.execute("INSERT INTO pipelined VALUES (?, ?)", ("a", 1))
    # when a pipelined transaction changes a row, then breaks a constraint
    with pytest.raises(PersistenceError), db.writing(pipelined=True) as cur:
        cur.execute("UPDATE pipelined SET n = 5 WHERE k = ?", ("a",))
        cur.execute("INSERT INTO pipelined VALUES (?, ?)", ("b", None))
        cur.sync()
    # then nothing of it was committed
    assert rows(db) == [("a", 1)]


def test_an_error_raised_after_a_sync_rolls_the_pipelined_write_back(db: Database):
    # (how the engine refuses a batch whose generation another worker moved)
    with pytest.raises(LookupError), db.writing(pipelined=True) as cur:
        cur.execute("INSERT INTO pipelined VALUES (?, ?)", ("a", 1))
        cur.sync()
        raise LookupError("moved meanwhile")
    assert rows(db) == []
