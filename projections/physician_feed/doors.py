"""What a surgery referral had behind it: the "doors opened" checklist (DOMAIN.md
"Feed items"), judged at the referral's moment in clinical time."""

from __future__ import annotations

from dataclasses import dataclass

from projections.base import State
from projections.clinical.definitions import (
    Moment,
    documented_care_days,
    identified_by,
    in_clinical_order,
    months_before,
    on,
    standing_flags,
    when,
)
from projections.physician_feed.parameters import FeedParameters
from projections.physician_feed.wording import (
    DIAGNOSTICS,
    GENERATORS,
    PRODUCTS,
    RED_FLAGS,
    REGENERATIVE,
    in_order,
    listed,
    name,
    plural,
)


@dataclass(frozen=True)
class Door:
    """One line of the checklist; `opened` is None for a line that is no door."""

    opened: bool | None
    text: str

    def __str__(self) -> str:
        mark = {True: "✓ ", False: "✗ ", None: ""}[self.opened]
        return mark + self.text


def doors_opened(
    state: State, moment: Moment, parameters: FeedParameters
) -> list[Door]:
    """Conservative care, imaging, pain generator, regenerative option, red flags."""
    return [
        conservative_care_door(state, moment, parameters),
        imaging_door(state, moment, parameters),
        generator_door(state, moment, parameters),
        regenerative_door(state, moment, parameters),
        red_flags_line(state, moment),
    ]


def conservative_care_door(
    state: State, moment: Moment, parameters: FeedParameters
) -> Door:
    """Weeks of documented conservative care by the referral's day (DOMAIN v2)."""
    days = documented_care_days(state, moment[0].date())
    weeks = days // 7
    if days == 0:
        return Door(False, "no conservative care documented")
    span = plural(days, "day") if days < 7 else plural(weeks, "week")
    return Door(
        weeks >= parameters.conservative_care_weeks, f"{span} of conservative care"
    )


def imaging_door(state: State, moment: Moment, parameters: FeedParameters) -> Door:
    """The latest MRI or CT in the calendar months before the referral."""
    since = months_before(moment[0].date(), parameters.imaging_months)
    imaging = [
        d
        for d in in_clinical_order(state["diagnostics"])
        if d["kind"] in parameters.imaging_kinds
        and when(d) <= moment
        and d["at"].date() >= since
    ]
    if not imaging:
        kinds = in_order(parameters.imaging_kinds, DIAGNOSTICS)
        names = " or ".join(name(DIAGNOSTICS, kind) for kind in kinds)
        months = plural(parameters.imaging_months, "month")
        return Door(False, f"no {names} in the {months} before")
    latest = imaging[-1]
    return Door(True, f"{name(DIAGNOSTICS, latest['kind'])} on {on(latest['at'])}")


def generator_door(state: State, moment: Moment, parameters: FeedParameters) -> Door:
    """The pain generators identified by the referral (DOMAIN v2 definition)."""
    found = identified_by(state, parameters.evidence, moment)
    if not found:
        return Door(False, "no pain generator identified")
    names = listed(name(GENERATORS, i.generator) for i in found)
    return Door(True, f"{names} identified")


def regenerative_door(state: State, moment: Moment, parameters: FeedParameters) -> Door:
    """A biologic given, or a plan that recommended or offered a regenerative option."""
    biologics = [b for b in in_clinical_order(state["biologics"]) if when(b) <= moment]
    if biologics:
        return Door(True, f"{name(PRODUCTS, biologics[-1]['product'])} given")
    plans = [p for p in in_clinical_order(state["plans"]) if when(p) <= moment]
    doors = [
        p for p in plans if p["regenerative_option"] in parameters.regenerative_doors
    ]
    if doors:
        return Door(True, name(REGENERATIVE, doors[-1]["regenerative_option"]))
    if plans:
        return Door(False, name(REGENERATIVE, plans[-1]["regenerative_option"]))
    return Door(False, "no regenerative option documented")


def red_flags_line(state: State, moment: Moment) -> Door:
    """The red flags standing at the referral (DOMAIN v2 "Red flag standing")."""
    flags = in_order(standing_flags(state, moment), RED_FLAGS)
    if not flags:
        return Door(None, "no red flag standing")
    word = "red flags" if len(flags) > 1 else "red flag"
    return Door(None, f"{word} standing: {listed(name(RED_FLAGS, f) for f in flags)}")
