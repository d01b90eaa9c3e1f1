"""Episode commands (one event each) and episode reads: now, at a version, as of an instant."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query, Response
from pydantic import AwareDatetime

from api.access import DisclosureDep
from api.auth import Writer
from api.deps import EpisodesDep, IndexDep
from api.errors import Problem
from api.paging import After, Limit, decode_cursor, decode_int_cursor, encode_cursor
from api.schemas.commands import (
    EPISODE_COMMANDS,
    CommandAccepted,
    CommandCreate,
    OpenEpisodeCreate,
)
from api.schemas.episodes import (
    EpisodeFoundPublic,
    EpisodePublic,
    EpisodesPage,
    HistoryPage,
)
from api.views import episode_public, history_item
from domain.application import CareEpisodes, CommandResult, HistoryEntry
from domain.commands import Command
from domain.errors import ConcurrencyConflict, DomainError, VersionMismatch
from domain.values import EpisodeStatus
from infra.episode_index import EpisodeFilters
from infra.metrics import COMMANDS, CONFLICTS, REPLAYS
from infra.tokens import Principal

router = APIRouter(prefix="/episodes", tags=["episodes"])

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='apply only if the episode is at this version, e.g. "3" (else 412)',
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="a retry with the same key and body answers the original result",
    ),
]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {}}}
    for status, text in {
        401: "no or bad bearer token",
        403: "this role may not do this",
        404: "no such episode",
        409: "a rule of the episode was broken",
        412: "If-Match names another version",
        413: "body over 64 KiB",
        415: "body is not JSON",
        422: "a field is invalid (named), or an idempotency key was reused",
    }.items()
}


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names; None for no header or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip()
    if tag.startswith('"') and tag.endswith('"') and len(tag) > 2:
        tag = tag[1:-1]
    if not tag.isdigit():
        raise Problem(
            400,
            "invalid-if-match",
            "Invalid If-Match",
            'If-Match must be an episode ETag such as "3"',
        )
    return int(tag)


def run(
    episodes: CareEpisodes,
    command: Command,
    principal: Principal,
    *,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> CommandResult:
    """Handle one command as `principal`, counting what became of it."""
    name = command.name
    try:
        result = episodes.handle(
            command,
            actor=principal.actor,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
    except VersionMismatch:
        CONFLICTS.labels(name, "version_mismatch").inc()
        COMMANDS.labels(name, "refused").inc()
        raise
    except ConcurrencyConflict:
        CONFLICTS.labels(name, "retries_exhausted").inc()
        COMMANDS.labels(name, "refused").inc()
        raise
    except DomainError:
        COMMANDS.labels(name, "refused").inc()
        raise
    if result.replayed:
        REPLAYS.labels(name).inc()
    COMMANDS.labels(name, "replayed" if result.replayed else "recorded").inc()
    return result


def accepted(result: CommandResult, response: Response) -> CommandAccepted:
    """The answer to a command, with the episode's new version as its ETag."""
    response.headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return CommandAccepted(
        episode_id=result.episode_id, version=result.version, position=result.position
    )


@router.post("", status_code=201, responses=PROBLEMS, summary="Open an episode")
def open_episode(
    body: OpenEpisodeCreate,
    principal: Writer,
    episodes: EpisodesDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandAccepted:
    """Open an episode with its first referral (ReferralReceived)."""
    result = run(
        episodes, body.to_command(), principal, idempotency_key=idempotency_key
    )
    response.headers["Location"] = f"/episodes/{result.episode_id}"
    return accepted(result, response)


def _command_endpoint(schema: type[CommandCreate]) -> Any:
    def endpoint(
        episode_id: UUID,
        body: Any,
        principal: Writer,
        episodes: EpisodesDep,
        response: Response,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandAccepted:
        result = run(
            episodes,
            body.to_command(episode_id),
            principal,
            expected_version=expected_version(if_match),
            idempotency_key=idempotency_key,
        )
        return accepted(result, response)

    endpoint.__annotations__["body"] = Annotated[schema, Body()]
    endpoint.__doc__ = schema.doc
    endpoint.__name__ = schema.command.name
    return endpoint


for _schema in EPISODE_COMMANDS:
    router.add_api_route(
        f"/{{episode_id}}/{_schema.path}",
        _command_endpoint(_schema),
        methods=["POST"],
        status_code=201,
        response_model=CommandAccepted,
        responses=PROBLEMS,
        name=_schema.command.name,
        summary=_schema.doc.split(" (")[0],
    )


@router.get("", responses=PROBLEMS, summary="Find episodes")
def find_episodes(
    access: DisclosureDep,
    index: IndexDep,
    patient_id: Annotated[
        str | None, Query(max_length=128, description="one patient's episodes")
    ] = None,
    referrer_id: Annotated[
        str | None,
        Query(max_length=128, description="episodes this physician referred"),
    ] = None,
    assignee: Annotated[
        str | None,
        Query(max_length=128, description="episodes assigned to a clinician"),
    ] = None,
    status: Annotated[EpisodeStatus | None, Query(description="open or closed")] = None,
    opened_from: Annotated[
        AwareDatetime | None, Query(description="opened at or after")
    ] = None,
    opened_to: Annotated[
        AwareDatetime | None, Query(description="opened before")
    ] = None,
    after: After = None,
    limit: Limit = 50,
) -> EpisodesPage:
    """Episodes in the order they opened, filtered; a physician finds only the
    episodes it referred. Every search is in the access log (it discloses patient
    ids)."""
    filters = EpisodeFilters(
        patient_id=patient_id,
        referrer_id=referrer_id,
        assignee_id=assignee,
        status=status.value if status else None,
        opened_from=opened_from,
        opened_before=opened_to,
        physician_id=access.physician_scope,
    )
    found, next_key = index.search(filters, _search_cursor(after), limit)
    access.rows(episode.episode_id for episode in found)
    return EpisodesPage(
        items=[EpisodeFoundPublic(**vars(episode)) for episode in found],
        next_cursor=encode_cursor(
            "episodes", f"{next_key[0].isoformat()}|{next_key[1]}"
        )
        if next_key
        else None,
    )


def _search_cursor(after: str | None) -> tuple[datetime, str] | None:
    value = decode_cursor("episodes", after)
    if value is None:
        return None
    opened, _, episode = value.partition("|")
    try:
        moment = datetime.fromisoformat(opened)
        if moment.utcoffset() is None:
            raise ValueError(opened)
        return moment, str(UUID(episode))
    except ValueError:
        raise Problem(
            422, "invalid-cursor", "The cursor is invalid", "after: unknown cursor"
        ) from None


@router.get("/{episode_id}", responses=PROBLEMS)
def get_episode(
    episode_id: UUID,
    access: DisclosureDep,
    episodes: EpisodesDep,
    response: Response,
    version: Annotated[
        int | None, Query(ge=1, description="the episode at this version")
    ] = None,
    as_of: Annotated[
        AwareDatetime | None,
        Query(description="the episode as recorded at this instant"),
    ] = None,
) -> EpisodePublic:
    """The episode now, at `version`, or as the store held it at `as_of`."""
    if version is not None and as_of is not None:
        raise Problem(
            422,
            "invalid-request",
            "The request is invalid",
            "give version or as_of, not both",
        )

    def load() -> Any:
        if as_of is not None:
            return episodes.get_episode_as_of(episode_id, as_of)
        return episodes.get_episode(episode_id, version=version)

    episode = access.episode(episode_id, load)
    response.headers["ETag"] = f'"{episode.version}"'
    return episode_public(episode)


@router.get("/{episode_id}/history", responses=PROBLEMS)
def get_history(
    episode_id: UUID,
    access: DisclosureDep,
    episodes: EpisodesDep,
    response: Response,
    after: After = None,
    limit: Limit = 100,
) -> HistoryPage:
    """Every stored event of the episode, oldest first: version, type, position, times,
    actor, data and its hash-chain link."""
    after_version = decode_int_cursor("history", after) or 0

    def load() -> tuple[list[HistoryEntry], int]:
        # One page read by version range (its cost flat in the episode's length),
        # then the newest version for the ETag and the next cursor.
        page = episodes.history(episode_id, after=after_version, limit=limit)
        newest = max(episodes.head_version(episode_id), *(e.version for e in page))
        return page, newest

    page, newest = access.episode(episode_id, load)
    response.headers["ETag"] = f'"{newest}"'
    more = bool(page) and page[-1].version < newest
    return HistoryPage(
        episode_id=episode_id,
        items=[
            history_item(entry, global_position=access.physician_scope is None)
            for entry in page
        ],
        next_cursor=encode_cursor("history", page[-1].version) if more else None,
    )
