"""Diagnostics in the feed: the pain generator named, and whether the evidence now
fits it (DOMAIN.md v2 "Pain generator identified", with the active block profile)."""

from __future__ import annotations

from domain import events as ev
from projections.base import State
from projections.clinical.definitions import (
    MEDIAL_BRANCH_BLOCK,
    SI_JOINT_BLOCK,
    identifications,
)
from projections.clinical.facts import plain
from projections.physician_feed.parameters import FeedParameters
from projections.physician_feed.wording import (
    DIAGNOSTICS,
    GENERATORS,
    in_order,
    levels,
    name,
    plural,
)


def block_threshold(kind: str, p: FeedParameters) -> int | None:
    """The relief a diagnostic block needs to count (None: not a block)."""
    if kind == MEDIAL_BRANCH_BLOCK:
        return p.evidence.blocks.min_relief_percent
    if kind == SI_JOINT_BLOCK:
        return p.evidence.si_block_min_relief
    return None


def generator_clause(
    event: ev.DiagnosticCompleted, before: State | None, after: State, p: FeedParameters
) -> str:
    """The pain generator a diagnostic names, whether it now counts as identified
    (or what it still lacks), and any generator it completed the evidence for."""
    evidence = p.evidence
    earlier = (
        {i.generator for i in identifications(before, evidence)} if before else set()
    )
    now = [i.generator for i in identifications(after, evidence)]
    named = plain(event.pain_generator)
    parts = []
    if named is None:
        if not [g for g in now if g not in earlier]:
            return "no pain generator named"
    elif named in evidence.never:
        parts.append(f"{name(GENERATORS, named)}, no pain generator identified")
    elif named in now:
        parts.append(f"{name(GENERATORS, named)} identified")
    else:
        missing = missing_evidence(named, event, after, p)
        parts.append(f"{name(GENERATORS, named)} named, not yet identified: {missing}")
    # A block or scan may complete the evidence for a generator named before it.
    parts += [
        f"{name(GENERATORS, g)} now identified"
        for g in now
        if g not in earlier and g != named
    ]
    return "; ".join(parts)


def missing_evidence(
    generator: str, event: ev.DiagnosticCompleted, after: State, p: FeedParameters
) -> str:
    """What a named generator still needs before it counts (DOMAIN v2)."""
    evidence = p.evidence
    if generator == "facet":
        blocks = evidence.blocks
        positive = [
            d
            for d in after["diagnostics"]
            if d["kind"] == MEDIAL_BRANCH_BLOCK
            and (d["relief"] or 0) >= blocks.min_relief_percent
            and set(event.levels) <= set(d["levels"])
        ]
        needed = plural(blocks.blocks_required, "medial branch block")
        at = f" at {levels(event.levels)}" if event.levels else ""
        return (
            f"{len(positive)} of {needed} with ≥ {blocks.min_relief_percent} % "
            f"relief{at}"
        )
    if generator == "sacroiliac":
        return f"needs an SI joint block with ≥ {evidence.si_block_min_relief} % relief"
    if generator in evidence.confirmed_by:
        kinds = in_order(evidence.confirmed_by[generator], DIAGNOSTICS)
        names = [name(DIAGNOSTICS, kind) for kind in kinds]
        alternatives = (
            f"{', '.join(names[:-1])} or {names[-1]}" if names[1:] else names[0]
        )
        return f"needs {alternatives} confirmation"
    return "the evidence does not fit it yet"
