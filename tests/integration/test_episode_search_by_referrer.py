"""A referrer's episodes are read from its own index rows (referrer, opening,
episode): pages keep the opening order, a physician's scope and another referrer
filter intersect, and the opening window applies (SQLite and PostgreSQL)."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain import commands as cmd
from infra.bootstrap import bootstrap
from infra.episode_index import EpisodeFilters
from infra.settings import Settings
from tests.support import builders as b

SURGEON = "dr-ss-1"  # builders.further_referral's referrer


@pytest.fixture
def container(settings: Settings):
    with bootstrap(settings) as c:
        yield c


def _open(container, days: float, referrer: str) -> UUID:
    body = b.referral(referrer={"id": referrer, "name": "Dr R", "role": "primary_care"})
    opening = cmd.OpenEpisode(occurred_at=b.at(days), **body)
    return container.episodes.handle(opening, actor=b.SERVICE).episode_id


def _refer_on(container, episode_id: UUID, days: float) -> None:
    container.episodes.handle(
        b.command(cmd.ReceiveReferral, episode_id, b.further_referral(), days=days),
        actor=b.SERVICE,
    )


def _pages(container, limit: int, **filters) -> list[list[UUID]]:
    pages, after = [], None
    while True:
        page, after = container.index.search(EpisodeFilters(**filters), after, limit)
        pages.append([e.episode_id for e in page])
        if after is None:
            return pages


def test_a_referrers_episodes_page_in_opening_order_and_intersect(container):
    # given episodes of two physicians, opened in turn, the surgeon referred into
    # some of them afterwards (in an order other than their openings)
    ids = [_open(container, n, "dr-a" if n % 2 else "dr-b") for n in range(8)]
    for n in (6, 1, 4, 3, 0):
        _refer_on(container, ids[n], 9 + n)
    # then the surgeon's episodes page in the order they opened, nothing lost
    assert _pages(container, 2, referrer_id=SURGEON) == [
        [ids[0], ids[1]], [ids[3], ids[4]], [ids[6]]
    ]  # fmt: skip
    # and with a physician's scope, only the episodes both referred
    assert _pages(container, 50, referrer_id=SURGEON, physician_id="dr-a") == [
        [ids[1], ids[3]]
    ]
    assert _pages(container, 1, physician_id="dr-b", referrer_id=SURGEON) == [
        [ids[0]], [ids[4]], [ids[6]]
    ]  # fmt: skip
    # and the opening window applies to them
    window = _pages(
        container, 50, referrer_id=SURGEON, opened_from=b.at(1), opened_before=b.at(6)
    )
    assert window == [[ids[1], ids[3], ids[4]]]
    # and another status filter too
    container.episodes.handle(
        b.command(cmd.CloseEpisode, ids[3], b.closure(), days=20), actor=b.SERVICE
    )
    assert _pages(container, 50, referrer_id=SURGEON, status="closed") == [[ids[3]]]
