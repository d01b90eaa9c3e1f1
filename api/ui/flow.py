"""The pathways as a flow: services visited in order, episodes counted on each edge.

Step k of the flow is the k-th service an episode was referred to; an edge counts
the episodes that went from one service at step k to another at step k + 1, so
a loop (surgery, pain medicine, surgery again) shows as the path it took. Drawn
as server-side SVG in columns, one per step, with the counts on the edges; the
page lists the same edges in a table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup, escape

MAX_STEPS = 6
COLUMN_W, ROW_H, NODE_W, NODE_H, PAD = 170, 56, 130, 32, 12


@dataclass(frozen=True)
class Edge:
    step: int
    source: str
    target: str
    episodes: int


@dataclass(frozen=True)
class Flow:
    """Episodes per service at each step, and the edges between steps."""

    nodes: dict[tuple[int, str], int]
    edges: list[Edge]
    episodes: int

    @property
    def svg(self) -> Markup:
        return _svg(self)


def pathway_flow(pathways: Iterable[list[str]]) -> Flow:
    """The flow of these pathways (each the services in the order visited)."""
    nodes: Counter[tuple[int, str]] = Counter()
    edges: Counter[tuple[int, str, str]] = Counter()
    count = 0
    for pathway in pathways:
        count += 1
        steps = pathway[:MAX_STEPS]
        for step, service in enumerate(steps):
            nodes[(step, service)] += 1
        for step, (source, target) in enumerate(pairwise(steps)):
            edges[(step, source, target)] += 1
    ordered = sorted(edges.items(), key=lambda item: (item[0][0], -item[1], item[0]))
    return Flow(
        dict(nodes),
        [Edge(step, s, t, n) for (step, s, t), n in ordered],
        count,
    )


def _svg(flow: Flow) -> Markup:
    columns: dict[int, list[str]] = {}
    for step, service in sorted(flow.nodes, key=lambda k: (k[0], -flow.nodes[k], k[1])):
        columns.setdefault(step, []).append(service)
    rows = max((len(c) for c in columns.values()), default=1)
    width = PAD * 2 + COLUMN_W * max(len(columns), 1)
    height = PAD * 2 + ROW_H * rows + 20

    def at(step: int, service: str) -> tuple[float, float]:
        return PAD + step * COLUMN_W, PAD + 20 + columns[step].index(service) * ROW_H

    widest = max((e.episodes for e in flow.edges), default=1)
    parts = [
        f'<svg class="flow" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="flow-title flow-desc" xmlns="http://www.w3.org/2000/svg">',
        '<title id="flow-title">Pathways: services visited in order</title>',
        f'<desc id="flow-desc">{flow.episodes} episodes; the table below lists '
        "each edge with its count.</desc>",
    ]
    for step in columns:
        parts.append(
            f'<text class="tick" x="{PAD + step * COLUMN_W}" y="{PAD + 8}">'
            f"step {step + 1}</text>"
        )
    for edge in flow.edges:
        x1, y1 = at(edge.step, edge.source)
        x2, y2 = at(edge.step + 1, edge.target)
        x1, y1, y2 = x1 + NODE_W, y1 + NODE_H / 2, y2 + NODE_H / 2
        stroke = round(1 + 9 * edge.episodes / widest, 1)
        middle = (x1 + x2) / 2
        parts.append(
            f'<path class="edge" d="M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}" '
            f'stroke-width="{stroke}"><title>{escape(_words(edge.source))} → '
            f"{escape(_words(edge.target))}: {edge.episodes}</title></path>"
        )
        parts.append(
            f'<text class="edge-count" x="{middle}" y="{(y1 + y2) / 2 - 4}" '
            f'text-anchor="middle">{edge.episodes}</text>'
        )
    for (step, service), episodes in flow.nodes.items():
        x, y = at(step, service)
        parts.append(
            f'<rect class="node" x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="4"/>'
            f'<text class="node-label" x="{x + 6}" y="{y + 20}">'
            f"{escape(_words(service))} ({episodes})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _words(code: str) -> str:
    return code.replace("_", " ")
