"""The evidence packet as a printable HTML page (Jinja2, autoescaped)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("api", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_evidence(packet: dict[str, Any]) -> str:
    """The page of one evidence packet: findings, history, chain links."""
    template = _environment().get_template("evidence/episode.html")
    return template.render(packet=packet, as_json=_as_json)


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
