"""Outcome scores against time, as inline SVG drawn on the server.

One chart per instrument: the scores at their clinical times (days since the
episode opened), and the band of no meaningful change around the first score,
from the same MCIDs the read models judge by (projections.clinical). Each point
says whether it is a meaningful improvement or worsening on that first score. No
script draws anything: the SVG is markup, with a title and description, and the
page repeats the figures in a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from markupsafe import Markup, escape

from projections.clinical.definitions import improved, worsened
from projections.clinical.parameters import MCID, RESPONDER_RELIEF_PERCENT, Mcid

# The range each instrument scores on (DOMAIN.md outcomes).
RANGES = {
    "nrs_pain": (0, 10),
    "odi": (0, 100),
    "promis_pf": (20, 80),
    "promis_pi": (20, 80),
    "relief_percent": (0, 100),
}
NAMES = {
    "nrs_pain": "Pain (NRS 0-10)",
    "odi": "Disability (ODI 0-100)",
    "promis_pf": "Physical function (PROMIS T-score)",
    "promis_pi": "Pain interference (PROMIS T-score)",
    "relief_percent": "Relief (% after a block)",
}
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


@dataclass(frozen=True)
class Score:
    """One recorded score, at its clinical time."""

    version: int
    occurred_at: datetime
    score: Decimal


@dataclass(frozen=True)
class Point:
    """A score as the chart and its table show it."""

    version: int
    occurred_at: datetime
    day: float
    score: Decimal
    verdict: str


@dataclass(frozen=True)
class OutcomeChart:
    """One instrument's scores, its band, and the SVG."""

    instrument: str
    name: str
    points: list[Point]
    band: tuple[Decimal, Decimal] | None
    """The scores within a meaningful change of the first (None: no MCID)."""
    svg: Markup


def band_around(baseline: Decimal, mcid: Mcid) -> tuple[Decimal, Decimal]:
    """Scores that are no meaningful change from `baseline`: a change counts at
    the MCID's points or its percent of the baseline, whichever is smaller."""
    step = mcid.points
    if mcid.percent is not None and baseline > 0:
        step = min(step, mcid.percent * baseline / 100)
    return baseline - step, baseline + step


def verdict(instrument: str, first: Decimal, score: Decimal, is_first: bool) -> str:
    """What a score means against the first one (the same tests as the read models)."""
    if instrument == "relief_percent":
        if score >= RESPONDER_RELIEF_PERCENT:
            return "responder"
        return f"below the {RESPONDER_RELIEF_PERCENT} % responder threshold"
    if is_first:
        return "first score"
    mcid = MCID.get(instrument)
    if mcid is None:
        return ""
    if improved(first, score, mcid):
        return "meaningful improvement"
    if worsened(first, score, mcid):
        return "meaningful worsening"
    return "no meaningful change"


def outcome_chart(
    instrument: str, scores: list[Score], opened_at: datetime
) -> OutcomeChart:
    """The chart of one instrument's scores (in clinical order)."""
    scores = sorted(scores, key=lambda s: (s.occurred_at, s.version))
    first = scores[0].score
    points = [
        Point(
            s.version,
            s.occurred_at,
            (s.occurred_at - opened_at).total_seconds() / 86400,
            s.score,
            verdict(instrument, first, s.score, index == 0),
        )
        for index, s in enumerate(scores)
    ]
    mcid = MCID.get(instrument)
    band = band_around(first, mcid) if mcid else None
    name = NAMES.get(instrument, instrument)
    return OutcomeChart(
        instrument, name, points, band, _svg(instrument, name, points, band)
    )


def _svg(
    instrument: str,
    name: str,
    points: list[Point],
    band: tuple[Decimal, Decimal] | None,
) -> Markup:
    low, high = RANGES.get(instrument, (0, max(float(p.score) for p in points)))
    last_day = max(max(p.day for p in points), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: float) -> float:
        return round(LEFT + plot_w * day / last_day, 1)

    def y(score: float) -> float:
        clipped = min(max(score, low), high)
        return round(TOP + plot_h * (1 - (clipped - low) / ((high - low) or 1)), 1)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{instrument}-title chart-{instrument}-desc" '
        f'xmlns="http://www.w3.org/2000/svg" data-instrument="{escape(instrument)}">',
        f'<title id="chart-{instrument}-title">{escape(name)} over time</title>',
        f'<desc id="chart-{instrument}-desc">{escape(_description(points, band))}</desc>',
    ]
    if band is not None:
        top, bottom = y(float(band[1])), y(float(band[0]))
        parts.append(
            f'<rect class="band" x="{LEFT}" y="{top}" width="{plot_w}" '
            f'height="{round(bottom - top, 1)}"><title>no meaningful change: '
            f"{_n(band[0])} to {_n(band[1])}</title></rect>"
        )
    if instrument == "relief_percent":
        line = y(RESPONDER_RELIEF_PERCENT)
        parts.append(
            f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
            f'y1="{line}" y2="{line}"/>'
        )
    # Axes with their ends labelled: scores on the left, days along the bottom.
    base = TOP + plot_h
    parts += [
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{high}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{base + 4}" text-anchor="end">{low}</text>',
        f'<text class="tick" x="{LEFT}" y="{base + 18}">day 0</text>',
        f'<text class="tick" x="{WIDTH - RIGHT}" y="{base + 18}" text-anchor="end">'
        f"day {round(last_day)}</text>",
        f'<text class="tick" x="{LEFT + plot_w / 2}" y="{base + 34}" '
        'text-anchor="middle">days since the episode opened</text>',
    ]
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x(p.day)},{y(float(p.score))}"
        for i, p in enumerate(points)
    )
    parts.append(f'<path class="trend" d="{path}"/>')
    for p in points:
        kind = p.verdict.split(" ")[-1] if p.verdict else "score"
        parts.append(
            f'<circle class="point point-{escape(kind)}" cx="{x(p.day)}" '
            f'cy="{y(float(p.score))}" r="5"><title>day {round(p.day)}: '
            f"{_n(p.score)} ({escape(p.verdict)})</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _description(points: list[Point], band: tuple[Decimal, Decimal] | None) -> str:
    scores = ", ".join(f"day {round(p.day)}: {_n(p.score)}" for p in points)
    text = f"Scores {scores}."
    if band is not None:
        text += f" No meaningful change from the first score: {_n(band[0])} to {_n(band[1])}."
    return text


def _n(value: Decimal) -> str:
    """A score without trailing zeros: 46, 4.5."""
    text = f"{value.normalize():f}"
    return text
