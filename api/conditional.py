"""Conditional requests (RFC 9110 §13): If-Match on commands, If-None-Match on reads."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, NoReturn, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from api.errors import NotModified, Problem

M = TypeVar("M", bound=BaseModel)
# An entity-tag: optionally weak, then a quoted string of visible ASCII but `"`.
_ENTITY_TAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')
_MAX_VERSION_DIGITS = 18  # fits a signed 64-bit integer on every backend


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names; None for no header or `*`.

    The header must hold one strong episode ETag such as `"3"`: a weak tag never
    matches under If-Match's strong comparison, and a command applies at one
    version, so anything else is refused as malformed (422).
    """
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip()
    if tag.startswith('"') and tag.endswith('"') and len(tag) > 2:
        tag = tag[1:-1]
    # str.isdigit admits other scripts' digits ("²"): an ETag of ours is ASCII.
    if not (tag.isascii() and tag.isdigit()) or len(tag) > _MAX_VERSION_DIGITS:
        raise Problem(
            422,
            "invalid-if-match",
            "Invalid If-Match",
            'If-Match must be one episode ETag such as "3", or *',
            errors=[
                {
                    "field": "If-Match",
                    "in": "header",
                    "message": 'not an episode ETag such as "3"',
                }
            ],
        )
    return int(tag)


def entity_tags(header: str) -> list[str] | None:
    """The opaque tags of an If-None-Match list, weakness dropped (weak comparison);
    None if the header is not a valid list, which is then ignored."""
    tags, rest = [], header.strip()
    while rest:
        match = _ENTITY_TAG.match(rest)
        if match is None:
            return None
        tags.append(match.group(2))
        rest = rest[match.end() :].lstrip()
    return tags or None


def matches(if_none_match: str, etag: str) -> bool:
    """Whether If-None-Match names the current representation: `*` (one exists) or
    a tag equal to `etag` under weak comparison (RFC 9110 §8.8.3.2)."""
    if if_none_match.strip() == "*":
        return True
    tags = entity_tags(if_none_match)
    return tags is not None and etag.removeprefix("W/") in tags


def content_etag(model: BaseModel) -> str:
    """A strong ETag for a read model's answer: a digest of its exact JSON bytes, so
    it changes with any row, and with findings or tasks that fell due."""
    digest = hashlib.sha256(model.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        max_length=2000,
        description='answer 304 (no body) if the current ETag is among these, or "*"',
    ),
]


class Conditional:
    """A read's ETag, and its 304 when the caller's copy is current."""

    def __init__(
        self, request: Request, response: Response, if_none_match: IfNoneMatch = None
    ) -> None:
        self.request = request
        self.response = response
        self.if_none_match = if_none_match

    def version(self, version: int) -> None:
        """Tag the answer with an episode version; 304 if the caller has it."""
        self._tag(f'"{version}"')

    def holds(self, version: int) -> bool:
        """Whether the caller's If-None-Match names this episode version."""
        return self.if_none_match is not None and matches(
            self.if_none_match, f'"{version}"'
        )

    def unchanged(self, version: int) -> NoReturn:
        """304 for a caller whose copy of this version is current (`holds`)."""
        etag = f'"{version}"'
        self.response.headers["ETag"] = etag
        raise NotModified(etag)

    def content(self, model: M) -> M:
        """Tag `model` with its content's digest; 304 if the caller has it."""
        self._tag(content_etag(model))
        return model

    def _tag(self, etag: str) -> None:
        self.response.headers["ETag"] = etag
        if self.if_none_match is not None and matches(self.if_none_match, etag):
            raise NotModified(etag)


async def conditional(
    request: Request, response: Response, if_none_match: IfNoneMatch = None
) -> Conditional:
    """The request's `Conditional` (a coroutine: FastAPI would run a class, like
    any plain function dependency, on its thread pool)."""
    return Conditional(request, response, if_none_match)


ConditionalDep = Annotated[Conditional, Depends(conditional)]
