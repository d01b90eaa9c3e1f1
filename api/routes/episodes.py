"""Episode commands (one event each) and episode reads: now, at a version, as of an instant."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query, Response
from starlette.concurrency import run_in_threadpool

from api.access import DisclosureDep
from api.auth import Writer
from api.conditional import ConditionalDep, expected_version
from api.deps import EpisodesDep, IndexDep
from api.episode_reads import AsOf, Version, episode_for_caller
from api.errors import Problem
from api.openapi import NOT_MODIFIED, problems
from api.paging import (
    After,
    Limit,
    decode_int_cursor,
    decode_key_cursor,
    encode_cursor,
    encode_key_cursor,
)
from api.schemas.commands import (
    EPISODE_COMMANDS,
    AmendEventCreate,
    CommandAccepted,
    CommandCreate,
    OpenEpisodeCreate,
)
from api.schemas.common import Instant
from api.schemas.episodes import (
    EpisodeFoundPublic,
    EpisodePublic,
    EpisodesPage,
    HistoryPage,
)
from api.views import episode_public, history_item
from domain.application import CareEpisodes, CommandResult, HistoryEntry
from domain.commands import Command
from domain.errors import (
    ConcurrencyConflict,
    DomainError,
    PatientDataErased,
    VersionMismatch,
)
from domain.values import EpisodeStatus
from infra.episode_index import EpisodeFilters
from infra.erasure import erased_history
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
        min_length=1,
        max_length=255,
        description="a retry with the same key and body answers the original result",
    ),
]
OPEN_RESPONSES = problems(403, 422)
COMMAND_RESPONSES = problems(403, 404, 409, 410, 412, 422)
READ_RESPONSES = {**NOT_MODIFIED, **problems(403, 404, 410, 422)}


def run(
    episodes: CareEpisodes,
    command: Command,
    principal: Principal,
    *,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> CommandResult:
    """Handle one command as `principal`, counting what became of it.

    It blocks on the store, so the command routes (coroutines) run it on the thread
    pool: one hop per command, where a plain-function route also sent its
    dependencies and the validation of its answer to the pool."""
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


@router.post(
    "",
    status_code=201,
    responses=OPEN_RESPONSES,
    summary="Open an episode",
    response_description="opened: the new episode's id, version 1 and the event's "
    "position; `Location` names the episode, `ETag` is its version",
)
async def open_episode(
    body: OpenEpisodeCreate,
    principal: Writer,
    episodes: EpisodesDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandAccepted:
    """Open an episode with its first referral (ReferralReceived). Services and
    clinicians only; with an `Idempotency-Key` a retry answers the same episode."""
    command = body.to_command()
    result = await run_in_threadpool(
        run, episodes, command, principal, idempotency_key=idempotency_key
    )
    response.headers["Location"] = f"/episodes/{result.episode_id}"
    return accepted(result, response)


def _command_endpoint(schema: type[CommandCreate]) -> Any:
    async def endpoint(
        episode_id: UUID,
        body: Any,
        principal: Writer,
        episodes: EpisodesDep,
        response: Response,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandAccepted:
        command = body.to_command(episode_id)
        result = await run_in_threadpool(
            run,
            episodes,
            command,
            principal,
            expected_version=expected_version(if_match),
            idempotency_key=idempotency_key,
        )
        return accepted(result, response)

    endpoint.__annotations__["body"] = Annotated[schema, Body()]
    endpoint.__doc__ = (
        f"{schema.doc} Services and clinicians only. A request wrong on its own "
        "answers 422, one the episode's state refuses 409; with `If-Match` it applies "
        "only at that version (else 412)."
    )
    endpoint.__name__ = schema.command.name
    return endpoint


for _schema in EPISODE_COMMANDS:
    router.add_api_route(
        f"/{{episode_id}}/{_schema.path}",
        _command_endpoint(_schema),
        methods=["POST"],
        status_code=201,
        response_model=CommandAccepted,
        responses=COMMAND_RESPONSES,
        response_description="recorded: the episode's new version (also the `ETag`) "
        "and the event's position",
        name=_schema.command.name,
        summary=_schema.doc.split(" (")[0],
    )


router.add_api_route(
    f"/{{episode_id}}/{AmendEventCreate.path}",
    _command_endpoint(AmendEventCreate),
    methods=["POST"],
    status_code=201,
    response_model=CommandAccepted,
    responses=COMMAND_RESPONSES,
    response_description="recorded: the amendment's version (also the `ETag`) and "
    "the event's position",
    name=AmendEventCreate.command.name,
    summary="Amend an earlier event",
)


@router.get("", responses={**NOT_MODIFIED, **problems(422)}, summary="Find episodes")
def find_episodes(
    access: DisclosureDep,
    index: IndexDep,
    conditional: ConditionalDep,
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
        Instant | None, Query(description="opened at or after")
    ] = None,
    opened_to: Annotated[Instant | None, Query(description="opened before")] = None,
    after: After = None,
    limit: Limit = 50,
) -> EpisodesPage:
    """Episodes in the order they opened, filtered; a physician finds only the
    episodes it referred. Every search is in the access log (it discloses patient
    ids). The `ETag` is a digest of the page: `If-None-Match` with it answers 304."""
    filters = EpisodeFilters(
        patient_id=patient_id,
        referrer_id=referrer_id,
        assignee_id=assignee,
        status=status.value if status else None,
        opened_from=opened_from,
        opened_before=opened_to,
        physician_id=access.physician_scope,
    )
    found, next_key = index.search(filters, decode_key_cursor("episodes", after), limit)
    access.rows(episode.episode_id for episode in found)
    page = EpisodesPage(
        items=[EpisodeFoundPublic(**vars(episode)) for episode in found],
        next_cursor=encode_key_cursor("episodes", next_key),
    )
    return conditional.content(page)


@router.get("/{episode_id}", responses=READ_RESPONSES, summary="Read an episode")
def get_episode(
    episode_id: UUID,
    access: DisclosureDep,
    episodes: EpisodesDep,
    conditional: ConditionalDep,
    version: Version = None,
    as_of: AsOf = None,
) -> EpisodePublic:
    """The episode now, at `version`, or as the store held it at `as_of` (recorded
    time). The `ETag` is the version shown: `If-None-Match` with it answers 304.
    A physician reads only the episodes it referred."""
    episode = episode_for_caller(
        access, conditional, episodes, episode_id, version, as_of
    )
    return episode_public(episode)


@router.get(
    "/{episode_id}/history",
    responses=READ_RESPONSES,
    summary="Read an episode's history",
)
def get_history(
    episode_id: UUID,
    access: DisclosureDep,
    episodes: EpisodesDep,
    conditional: ConditionalDep,
    after: After = None,
    limit: Limit = 100,
) -> HistoryPage:
    """Every stored event of the episode, oldest first: version, type, position, times,
    actor, data and its hash-chain link. The `ETag` is the episode's newest version:
    `If-None-Match` with it answers 304."""
    after_version = decode_int_cursor("history", after) or 0

    def load() -> tuple[list[HistoryEntry], int]:
        # One page read by version range (its cost flat in the episode's length),
        # then the newest version for the ETag and the next cursor.
        page = episodes.history(episode_id, after=after_version, limit=limit)
        newest = max(episodes.head_version(episode_id), *(e.version for e in page))
        return page, newest

    try:
        page, newest = access.episode(episode_id, load)
    except PatientDataErased as error:
        # 410 like every read of the patient, with what stays readable: each
        # event's version, type and times (never its content).
        raise Problem(
            410,
            "patient-data-erased",
            "Patient data erased",
            error.message,
            events=[e.public() for e in erased_history(episodes, episode_id)],
        ) from None
    conditional.version(newest)
    more = bool(page) and page[-1].version < newest
    return HistoryPage(
        episode_id=episode_id,
        items=[
            history_item(entry, global_position=access.physician_scope is None)
            for entry in page
        ],
        next_cursor=encode_cursor("history", page[-1].version) if more else None,
    )
