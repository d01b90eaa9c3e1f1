"""Check functions the episode's commands use to refuse bad input with a sentence."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidCommand
from domain.values import (
    PlanItem,
    PlanItemKind,
    ReferralSource,
    Referrer,
    Surgeon,
    parse_enum,
)

# Clinic devices drift; an occurred_at this far ahead of the server clock is
# still accepted, anything later is "in the future".
MAX_CLOCK_SKEW = timedelta(minutes=5)
# The clinical times (and as_of instants) the service takes.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
MAX_TEXT = 4000
MAX_NAME = 200
MAX_ID = 128
MAX_SESSIONS = 365
# Largest single injectate volume we accept; bone marrow concentrate rarely
# exceeds 20 ml per site, so 100 ml is a typo guard, not a clinical limit.
MAX_BIOLOGIC_ML = Decimal(100)
MIN_JUSTIFICATION = 10
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(value: Any, field: str, *, max_len: int = MAX_TEXT) -> str:
    """Return `value` stripped, refusing a blank or over-long text."""
    text = str(value or "").strip()
    if not text:
        raise InvalidCommand(f"{field} must not be blank", field=field)
    if len(text) > max_len:
        msg = f"{field} is {len(text)} characters long; at most {max_len} are allowed"
        raise InvalidCommand(msg, field=field)
    check_characters(text, field)
    return text


def check_characters(text: str, field: str) -> str:
    """Refuse control characters (tab and line breaks aside) and lone surrogates.

    A NUL cannot be stored in a PostgreSQL text column and a lone surrogate cannot
    be encoded at all: either would stop every read model at this event.
    """
    if _CONTROL.search(text):
        msg = f"{field} contains a control character; send printable text"
        raise InvalidCommand(msg, field=field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        msg = f"{field} is not valid Unicode text (a lone surrogate)"
        raise InvalidCommand(msg, field=field) from None
    return text


def check_optional_text(value: Any, field: str) -> str:
    """Return `value` stripped, or "" when absent."""
    return "" if value is None or str(value).strip() == "" else check_text(value, field)


def check_identifier(value: Any, field: str) -> str:
    """Return a short opaque identifier (pseudonymous patient ids, physician ids)."""
    text = check_text(value, field, max_len=MAX_ID)
    if any(ch.isspace() for ch in text):
        raise InvalidCommand(f"{field} must not contain spaces", field=field)
    return text


def check_aware(moment: Any, field: str = "occurred_at") -> datetime:
    """Refuse anything but a date and time with a UTC offset."""
    if not isinstance(moment, datetime):
        raise InvalidCommand(f"{field} must be a date and time", field=field)
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"{field} {moment.isoformat()} has no UTC offset"
        raise InvalidCommand(msg, field=field)
    if not EARLIEST <= moment <= LATEST:
        # Far outside any clinical record, and near the ends of what datetime
        # holds, where converting to UTC overflows in every reader.
        msg = f"{field} {moment.isoformat()} is not between 1900 and 9000"
        raise InvalidCommand(msg, field=field)
    return moment


def check_not_future(
    moment: datetime, now: datetime, field: str = "occurred_at"
) -> None:
    """Refuse a clinical time later than now (beyond the clock-skew allowance)."""
    if moment > now + MAX_CLOCK_SKEW:
        raise InvalidCommand(
            f"{field} {moment.isoformat()} is in the future", field=field
        )


def check_date(value: Any, field: str) -> date:
    """Refuse anything but a calendar date."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidCommand(f"{field} must be a date (YYYY-MM-DD)", field=field)
    return value


def check_percent(value: Any, field: str) -> int:
    """Return a whole percentage from 0 to 100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        msg = f"{field} must be a whole number from 0 to 100, not {value!r}"
        raise InvalidCommand(msg, field=field)
    return value


def check_count(value: Any, field: str, maximum: int) -> int:
    """Return a whole number from 0 to `maximum`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= maximum
    ):
        msg = f"{field} must be a whole number from 0 to {maximum}, not {value!r}"
        raise InvalidCommand(msg, field=field)
    return value


def check_decimal(value: Any, field: str) -> Decimal:
    """Return `value` as a finite Decimal (floats go through their shortest text)."""
    if isinstance(value, bool) or value is None:
        raise InvalidCommand(f"{field} must be a number, not {value!r}", field=field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        msg = f"{field} must be a number, not {value!r}"
        raise InvalidCommand(msg, field=field) from None
    if not number.is_finite():
        raise InvalidCommand(f"{field} must be a finite number", field=field)
    return number


def check_referrer(
    value: Referrer | Mapping[str, Any], field: str = "referrer"
) -> Referrer:
    """Return a valid Referrer (id, name and a known referral source)."""
    data = _fields_of(value, ("id", "name", "role"), field)
    return Referrer(
        id=check_identifier(data["id"], f"{field}.id"),
        name=check_text(data["name"], f"{field}.name", max_len=MAX_NAME),
        role=parse_enum(ReferralSource, data["role"], f"{field}.role"),
    )


def check_surgeon(
    value: Surgeon | Mapping[str, Any], field: str = "surgeon"
) -> Surgeon:
    """Return a valid Surgeon (id and name)."""
    data = _fields_of(value, ("id", "name"), field)
    return Surgeon(
        id=check_identifier(data["id"], f"{field}.id"),
        name=check_text(data["name"], f"{field}.name", max_len=MAX_NAME),
    )


def check_plan_item(
    value: PlanItem | Mapping[str, Any], field: str = "items"
) -> PlanItem:
    """Return a valid plan item (a known kind and a detail)."""
    data = _fields_of(value, ("kind", "detail"), field)
    return PlanItem(
        kind=parse_enum(PlanItemKind, data["kind"], f"{field}.kind"),
        detail=check_text(data["detail"], f"{field}.detail", max_len=1000),
    )


def _fields_of(value: Any, names: tuple[str, ...], field: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        missing = [name for name in names if name not in value]
        if missing:
            msg = f"{field} is missing {', '.join(missing)}"
            raise InvalidCommand(msg, field=field)
        return {name: value[name] for name in names}
    if all(hasattr(value, name) for name in names):
        return {name: getattr(value, name) for name in names}
    raise InvalidCommand(f"{field} must have {', '.join(names)}", field=field)
