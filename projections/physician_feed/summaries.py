"""One line per feed item, as a referring physician reads it at a glance.

Each event type has a small pure function of the event, the episode's clinical
facts before and after it (projections.clinical.facts) and the feed's
parameters. Judgements (a pain generator identified, a meaningful change, the
doors a surgery referral had opened) use the DOMAIN.md v2 definitions of
projections.clinical.definitions, at the event's moment in clinical time.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from domain import events as ev
from domain.amendments import corrected_event
from projections.base import State
from projections.clinical.definitions import (
    RELIEF,
    Moment,
    baselines,
    improved,
    reference_scores,
    standing_flags,
    worsened,
)
from projections.clinical.facts import plain
from projections.physician_feed.doors import doors_opened
from projections.physician_feed.generators import block_threshold, generator_clause
from projections.physician_feed.parameters import FeedParameters
from projections.physician_feed.wording import (
    CLOSURES,
    DIAGNOSTICS,
    DISPOSITIONS,
    INDICATIONS,
    INSTRUMENTS,
    INTENTS,
    MODALITIES,
    PLAN_ITEMS,
    PROCEDURES,
    PRODUCTS,
    RED_FLAGS,
    REGENERATIVE,
    SERVICES,
    capital,
    clip,
    in_order,
    levels,
    listed,
    name,
    number,
    plural,
    where,
)

Summary = Callable[[Any, State | None, State, FeedParameters], str]
"""(event, facts before it (None before the opening referral), facts after it,
parameters) -> the item's one-line summary."""


def moment(event: ev.EpisodeEvent) -> Moment:
    """The event's moment in clinical time."""
    return event.occurred_at, event.originator_version


def referral(
    event: ev.ReferralReceived, before: State | None, after: State, p: FeedParameters
) -> str:
    """Who received the patient, from whom, why, and any red flag suspected."""
    role = name(SERVICES, plain(event.referrer.role))
    service = name(SERVICES, plain(event.receiving_service))
    text = (
        f"{service} received the patient from {clip(event.referrer.name, 80)} "
        f"({role}): {clip(event.reason)}"
    )
    flags = [name(RED_FLAGS, plain(flag)) for flag in event.red_flags]
    if flags:
        text += f"; {'red flags' if len(flags) > 1 else 'red flag'} suspected: "
        text += listed(flags)
    return f"New episode: {text}" if before is None else capital(text)


def screening(
    event: ev.RedFlagsScreened, before: State | None, after: State, p: FeedParameters
) -> str:
    """The flags the screen found and its disposition; flags it ruled out."""
    flags = [plain(flag) for flag in event.flags]
    disposition = plain(event.disposition)
    if flags:
        found = listed(name(RED_FLAGS, flag) for flag in flags)
        text = f"{found} suspected: {name(DISPOSITIONS, disposition)}"
    else:
        text = "no red flags"
        if disposition != "none":
            text += f"; {name(DISPOSITIONS, disposition)}"
    # A screen rules out every standing flag it does not list (DOMAIN v2).
    standing = standing_flags(before, moment(event)) if before else set()
    ruled_out = in_order(standing - set(flags), RED_FLAGS)
    if ruled_out:
        text += f"; {listed(name(RED_FLAGS, flag) for flag in ruled_out)} ruled out"
    return f"Red-flag screen: {text}"


def diagnostic(
    event: ev.DiagnosticCompleted, before: State | None, after: State, p: FeedParameters
) -> str:
    """Kind, region and levels, relief for a block, and the pain generator with
    whether it now counts as identified."""
    kind = plain(event.kind)
    text = f"{name(DIAGNOSTICS, kind)} {where(plain(event.region), event.levels)}"
    if event.relief_percent is not None:
        text += f", relief {event.relief_percent} %"
        threshold = block_threshold(kind, p)
        if threshold is not None and event.relief_percent < threshold:
            text += f" (below the {threshold} % threshold)"
    return f"{text}: {generator_clause(event, before, after, p)}"


def conservative_care(
    event: ev.ConservativeCareRecorded,
    before: State | None,
    after: State,
    p: FeedParameters,
) -> str:
    """The course: what, when, how many sessions, and the response."""
    text = f"{name(MODALITIES, plain(event.modality))} from {event.started_on}"
    text += f" to {event.ended_on}" if event.ended_on else ", ongoing"
    if event.sessions:
        text += f", {plural(event.sessions, 'session')}"
    if event.response is not None:
        text += f": {plain(event.response)}"
    return text


def plan(
    event: ev.TreatmentPlanned, before: State | None, after: State, p: FeedParameters
) -> str:
    """The plan's items, its goals and where the regenerative option stands."""
    items = ", ".join(
        f"{name(PLAN_ITEMS, plain(item.kind))} ({clip(item.detail, 60)})"
        for item in event.items
    )
    regenerative = name(REGENERATIVE, plain(event.regenerative_option))
    return f"Plan: {items}; goals: {clip(event.goals, 100)}; {regenerative}"


def intervention(
    event: ev.InterventionPerformed,
    before: State | None,
    after: State,
    p: FeedParameters,
) -> str:
    """What was done, where, which side, and whether image-guided."""
    parts = [
        f"{name(PROCEDURES, plain(event.procedure))} "
        f"{where(plain(event.region), event.levels)}"
    ]
    if event.side is not None:
        parts.append(str(plain(event.side)))
    parts.append("image-guided" if event.image_guided else "without image guidance")
    return ", ".join(parts)


def biologic(
    event: ev.BiologicAdministered,
    before: State | None,
    after: State,
    p: FeedParameters,
) -> str:
    """The product, volume, target and levels, guidance, and the lot (traceability)."""
    text = f"{name(PRODUCTS, plain(event.product))} {number(event.volume_ml)} ml"
    text += f" to {clip(event.target, 80)}"
    if event.levels:
        text += f" ({levels(event.levels)})"
    text += ", image-guided" if event.image_guided else ", without image guidance"
    return f"{text}; lot {event.lot_number}"


def outcome(
    event: ev.OutcomeRecorded, before: State | None, after: State, p: FeedParameters
) -> str:
    """The score against its instrument's reference and meaningful change."""
    instrument = plain(event.instrument)
    label = name(INSTRUMENTS, instrument)
    score = Decimal(event.score)
    if instrument == RELIEF:
        threshold = p.responder_relief_percent
        verdict = (
            "responder"
            if score >= threshold
            else f"below the {threshold} % responder threshold"
        )
        return f"{label} {number(score)} %: {verdict}"
    reference = reference_scores(after).get(instrument)
    if reference is None or reference["version"] == event.originator_version:
        baseline = baselines(after).get(instrument)
        if baseline is not None and baseline["version"] == event.originator_version:
            return f"{label} {number(score)}: baseline"
        return f"{label} {number(score)}: first score (no baseline before treatment)"
    start = Decimal(reference["score"])
    trend = f"{label} {number(start)} → {number(score)}"
    mcid = p.mcid.get(instrument)
    if mcid is None:
        return trend
    if improved(start, score, mcid):
        return f"{trend}: meaningful improvement"
    if worsened(start, score, mcid):
        return f"{trend}: meaningful worsening"
    return f"{trend}: no meaningful change"


def surgery_referral(
    event: ev.SurgeryReferred, before: State | None, after: State, p: FeedParameters
) -> str:
    """Urgency, intent, indication and justification, and the doors it had opened."""
    head = (
        f"{capital(plain(event.urgency))} surgery referral to "
        f"{clip(event.surgeon.name, 80)} for {name(INTENTS, plain(event.intent))} "
        f"({name(INDICATIONS, plain(event.indication))}): "
        f"{clip(event.justification).rstrip('.')}"
    )
    doors = "; ".join(str(door) for door in doors_opened(after, moment(event), p))
    return f"{head}. Doors opened: {doors}"


def consult_note(
    event: ev.ConsultNoteSent, before: State | None, after: State, p: FeedParameters
) -> str:
    """To whom the letter went, and what it says."""
    return f"Consult note to {event.to_physician_id}: {clip(event.summary)}"


def assignment(
    event: ev.ClinicianAssigned, before: State | None, after: State, p: FeedParameters
) -> str:
    """Who now does the episode's work."""
    return f"Assigned to {clip(event.clinician_name, 80)}"


def closure(
    event: ev.EpisodeClosed, before: State | None, after: State, p: FeedParameters
) -> str:
    """Why the episode ended."""
    return f"Episode closed: {name(CLOSURES, plain(event.reason))}"


SUMMARIES: dict[type[ev.EpisodeEvent], Summary] = {
    ev.ReferralReceived: referral,
    ev.RedFlagsScreened: screening,
    ev.DiagnosticCompleted: diagnostic,
    ev.ConservativeCareRecorded: conservative_care,
    ev.TreatmentPlanned: plan,
    ev.InterventionPerformed: intervention,
    ev.BiologicAdministered: biologic,
    ev.OutcomeRecorded: outcome,
    ev.SurgeryReferred: surgery_referral,
    ev.ConsultNoteSent: consult_note,
    ev.ClinicianAssigned: assignment,
    ev.EpisodeClosed: closure,
}


def amendment(
    event: ev.EventAmended, before: State | None, after: State, p: FeedParameters
) -> str:
    """What the corrected event now says, which version it corrects, and why."""
    corrected = summarize(corrected_event(event), before, after, p)
    return (
        f"Corrected: {corrected} (version {event.amends_version} amended: "
        f"{clip(event.reason)})"
    )


def summarize(
    event: ev.EpisodeEvent, before: State | None, after: State, p: FeedParameters
) -> str:
    """The one-line summary of any episode event."""
    if isinstance(event, ev.EventAmended):
        return amendment(event, before, after, p)
    return SUMMARIES[type(event)](event, before, after, p)
