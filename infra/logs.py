"""Log configuration shared by the service's processes."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Log lines with time, level and logger name (request ids are in the messages)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
