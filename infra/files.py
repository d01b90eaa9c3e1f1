"""Files the service creates hold patient data or secrets: only their owner may read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from infra.settings import ConfigurationError


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) a directory only its owner can enter."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode passes through the umask
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and owner-only if it is missing (its directory too)."""
    private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return path


def check_private(path: Path, what: str) -> None:
    """Refuse a secret file that others may read or write, as ssh does."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise ConfigurationError(f"cannot read {what} {path}: {error}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"{what} {path} is open to other users (mode {stat.S_IMODE(mode):04o}); "
            f"make it owner-only: chmod 600 {path}"
        )
