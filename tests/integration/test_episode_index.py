"""The episode index is written with the events, in their transaction, and finds
episodes without reading an event."""

from __future__ import annotations

from datetime import timedelta, timezone
from uuid import UUID

import pytest

from domain import commands as cmd
from infra.bootstrap import backfill_index, bootstrap
from infra.database import Database
from infra.episode_index import EpisodeFilters, EpisodeIndex
from infra.settings import Settings
from tests.support import builders as b
from tests.support import projections as ps


@pytest.fixture
def container(settings: Settings):
    with bootstrap(settings) as c:
        yield c


def open_for(container, days: float = 0, **overrides) -> UUID:
    opening = cmd.OpenEpisode(occurred_at=b.at(days), **b.referral(**overrides))
    return container.episodes.handle(opening, actor=b.SERVICE).episode_id


def search(container, after=None, limit=50, **filters):
    return container.index.search(EpisodeFilters(**filters), after, limit)


def test_an_opened_episode_is_indexed_with_its_patient_and_referrer(container):
    episode_id = open_for(container, patient_id="pt-77")
    [found], _ = search(container, patient_id="pt-77")
    assert (found.episode_id, found.status, found.version) == (episode_id, "open", 1)
    assert found.opened_at == b.at(0)
    assert container.index.referred(episode_id, "dr-pc-1")
    assert not container.index.referred(episode_id, "dr-someone-else")


def test_later_events_update_status_assignee_version_and_referrers(container):
    episode_id = open_for(container)
    episodes = container.episodes
    for command_type, body in (
        (cmd.AssignClinician, b.assignment(clinician_id="clin-zoe")),
        (cmd.ReceiveReferral, b.further_referral()),
        (cmd.CloseEpisode, b.closure()),
    ):
        episodes.handle(
            b.command(command_type, episode_id, body, days=1), actor=b.SERVICE
        )
    [found], _ = search(container, assignee_id="clin-zoe")
    assert (found.status, found.version) == ("closed", 4)
    assert container.index.referred(episode_id, "dr-ss-1")
    assert [e.episode_id for e in search(container, referrer_id="dr-ss-1")[0]] == [
        episode_id
    ]


def test_a_refused_write_leaves_the_index_as_it_was(container):
    episode_id = open_for(container)
    with pytest.raises(Exception, match="before the episode opened"):
        container.episodes.handle(
            b.command(cmd.AssignClinician, episode_id, b.assignment(), days=-1),
            actor=b.SERVICE,
        )
    [found], _ = search(container)
    assert (found.assignee_id, found.version) == (None, 1)


def test_search_filters_combine_and_pages_keep_their_order(container):
    ids = [open_for(container, days=n, patient_id=f"pt-{n % 2}") for n in range(7)]
    container.episodes.handle(
        b.command(cmd.CloseEpisode, ids[2], b.closure(), days=9), actor=b.SERVICE
    )
    evens, _ = search(container, patient_id="pt-0")
    assert [e.episode_id for e in evens] == ids[0::2]
    closed, _ = search(container, status="closed")
    assert [e.episode_id for e in closed] == [ids[2]]
    window, _ = search(container, opened_from=b.at(2), opened_before=b.at(5))
    assert [e.episode_id for e in window] == ids[2:5]
    pages, after = [], None
    while True:
        page, after = search(container, after=after, limit=3)
        pages.append([e.episode_id for e in page])
        if after is None:
            break
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]


def test_paging_loses_and_repeats_nothing_while_episodes_are_opened(container):
    first = [open_for(container, days=n) for n in range(4)]
    page, after = search(container, limit=2)
    # episodes opened meanwhile, one of them earlier in clinical time than the cursor
    late = open_for(container, days=0.5)
    newer = open_for(container, days=8)
    rest, _ = search(container, after=after, limit=50)
    assert [e.episode_id for e in page + rest] == [*first, newer]
    assert late not in [e.episode_id for e in page + rest]


def test_a_physician_scope_finds_only_the_episodes_it_referred(container):
    mine = open_for(container)
    other = open_for(
        container, referrer={"id": "dr-x", "name": "X", "role": "concierge"}
    )
    found, _ = search(container, physician_id="dr-pc-1")
    assert [e.episode_id for e in found] == [mine]
    found, _ = search(container, physician_id="dr-x")
    assert [e.episode_id for e in found] == [other]


def test_a_store_written_before_the_index_is_indexed_when_it_starts(container):
    ids = [open_for(container, days=n, patient_id=f"pt-{n}") for n in range(3)]
    ps.add_events(container.episodes, ids[0], 3)
    db = Database(container.episodes)
    with db.writing() as cur:
        cur.execute("DELETE FROM episode_referrers")
        cur.execute("DELETE FROM episode_index")
    assert EpisodeIndex(db).count() == 0
    assert backfill_index(container.episodes) == 3
    [found], _ = search(container, patient_id="pt-0")
    assert found.version == 4
    assert container.index.referred(ids[2], "dr-pc-1")
    assert backfill_index(container.episodes) == 0  # once is enough


def test_the_window_bounds_take_offsets_into_account(container):
    episode_id = open_for(container)
    later = b.at(0).astimezone(timezone(timedelta(hours=5)))
    found, _ = search(container, opened_from=later)
    assert [e.episode_id for e in found] == [episode_id]
