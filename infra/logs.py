"""One log format for every line the service writes, its own and uvicorn's.

JSON, one object per line, when the output is not a terminal (what a log shipper
reads); a readable console format when it is. Structured fields travel as
`extra={...}` on the standard library's loggers. No token, patient id or payload
is ever put in a log line: request lines carry the route template, never the path.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog


def _drop_decoration(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    # uvicorn adds a copy of its message with terminal colours.
    event.pop("color_message", None)
    return event


_SHARED: list[Any] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    _drop_decoration,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def formatter(json_lines: bool) -> logging.Formatter:
    """The formatter of every handler: JSON lines, or a console renderer."""
    rendering: list[Any] = (
        [
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(),
        ]
        if json_lines
        else [structlog.dev.ConsoleRenderer(colors=False)]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            *rendering,
        ],
    )


def configure_logging(
    level: int = logging.INFO,
    *,
    json_lines: bool | None = None,
    stream: TextIO | None = None,
) -> None:
    """Send every logger's lines to `stream` (standard error) in the one format.

    `json_lines` None: JSON unless the stream is a terminal.
    """
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not stream.isatty()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(json_lines))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own loggers go through the root's handler; requests are logged by
    # the service itself, with the route template and no patient data.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # HTTP clients log the URLs they call at INFO, and URLs hold ids.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
