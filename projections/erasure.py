"""What a read model does when an episode's patient data is erased (EpisodeErased).

The event itself holds no patient data and is stored in plain; the episode's
earlier events can no longer be read, so a rebuild never sees them. Here the
rows the episode wrote are removed and its state dropped, so the views hold what
a rebuild would: nothing of that episode. A read model whose state spans a
patient's episodes also tells the patient's key to forget the episode.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain import events as ev
from projections.base import Change, Handled, Message, Remove, State, Table

ERASED = "erased"
"""A message's marker: the episode it names was erased."""


def episode_rows_removed(tables: Sequence[Table], episode_id: str) -> list[Change]:
    """Remove the episode's rows from every table keyed by row (not the counters)."""
    return [
        Remove(table.name, {"episode_id": episode_id})
        for table in tables
        if not table.counters and any(c.name == "episode_id" for c in table.columns)
    ]


def erased(
    tables: Sequence[Table],
    event: ev.EpisodeErased,
    extra: Sequence[Change] = (),
    messages: Sequence[Message] = (),
) -> Handled:
    """The episode's rows removed and its state dropped."""
    episode_id = str(event.originator_id)
    return Handled(None, [*episode_rows_removed(tables, episode_id), *extra], messages)


def forget_note(patient_key: str, state: State | None) -> list[Message]:
    """The message that makes a patient's key forget an erased episode."""
    if state is None or not state.get("sent"):
        return []
    return [Message(patient_key, {"episode_id": state["episode_id"], ERASED: True})]
