"""The bytes of a projection's per-key states: the application transcoder's own
format, encoded faster.

A state holds dozens of instants, and the library's encoder calls back into
Python for each through a lookup of its transcodings. `StateCodec` writes the
same bytes with the datetime case first and without the encoder's circular
reference check (states are trees built by handlers), and reads them with the
transcoder itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoder


class StateCodec:
    """Encodes and decodes states as `transcoder` does, byte for byte."""

    def __init__(self, transcoder: Transcoder) -> None:
        self.transcoder = transcoder
        self._encoder: json.JSONEncoder | None = None
        if isinstance(transcoder, JSONTranscoder):
            instants = transcoder.types.get(datetime)
            if type(instants) is DatetimeAsISO:
                self._types = transcoder.types
                self._instant = instants.name
                self._encoder = json.JSONEncoder(
                    default=self._encoded,
                    separators=(",", ":"),
                    ensure_ascii=False,
                    check_circular=False,
                )

    def encode(self, state: Any) -> bytes:
        """A state's stored bytes."""
        if self._encoder is None:
            return self.transcoder.encode(state)
        return self._encoder.encode(state).encode("utf8")

    def decode(self, data: bytes) -> Any:
        """A state from its stored bytes."""
        return self.transcoder.decode(data)

    def _encoded(self, value: Any) -> dict[str, Any]:
        if type(value) is datetime:
            return {"_type_": self._instant, "_data_": value.isoformat()}
        transcoding = self._types.get(type(value))
        if transcoding is None:
            raise TypeError(f"{type(value).__name__} cannot be kept in a state")
        return {"_type_": transcoding.name, "_data_": transcoding.encode(value)}
