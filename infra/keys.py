"""Per-patient data keys, wrapped by the master key, in a table of their own.

A patient is known here only by a keyed pseudonym (`patient_ref`: HMAC-SHA256 of
the patient id under a secret of the store, itself wrapped by the master key),
so the keys table holds no patient id. Erasing a patient deletes its key's row
and notes the key id in `erased_keys`: payloads it sealed can no longer be
opened, and a reader can tell an erased key from a missing one (a fault).

Unwrapped keys are cached per process (bounded, least recently used out first)
for `CACHE_SECONDS`, and dropped at once by an erasure in this process: after an
erasure in another process this one stops opening the patient's payloads within
that time. A new patient's key is made in memory and written in the same
transaction as the patient's first events (the recorder's `Rider`), not in a
commit of its own: until a transaction carrying it commits, every events'
transaction of this process carries it again, so no stored payload names a key
that was not stored with it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.crypto import MasterKey, SealError, new_data_key
from infra.database import Cursor, Database

CACHE_SECONDS = 10.0
CACHE_SIZE = 10_000
PREFETCH_CHUNK = 500
PSEUDONYM_SECRET = "patient_ref"

_SCHEMA = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS data_keys (key_id TEXT PRIMARY KEY, "
        "patient_ref TEXT NOT NULL, wrapped BLOB NOT NULL, "
        "master_id TEXT NOT NULL, created_at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS crypto_secrets (name TEXT PRIMARY KEY, "
        "wrapped BLOB NOT NULL, master_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS erased_keys (key_id TEXT PRIMARY KEY, "
        "erasure_id TEXT NOT NULL, erased_at TEXT NOT NULL)",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS data_keys (key_id text PRIMARY KEY, "
        "patient_ref text NOT NULL, wrapped bytea NOT NULL, "
        "master_id text NOT NULL, created_at timestamptz NOT NULL)",
        "CREATE TABLE IF NOT EXISTS crypto_secrets (name text PRIMARY KEY, "
        "wrapped bytea NOT NULL, master_id text NOT NULL)",
        "CREATE TABLE IF NOT EXISTS erased_keys (key_id text PRIMARY KEY, "
        "erasure_id text NOT NULL, erased_at timestamptz NOT NULL)",
    ],
}
_INDEX = (
    "CREATE INDEX IF NOT EXISTS data_keys_patient ON data_keys "
    "(patient_ref, created_at, key_id)"
)
TABLES = ("data_keys", "crypto_secrets", "erased_keys")

K = TypeVar("K")
V = TypeVar("V")


class KeyErased(Exception):
    """The data key was deleted by an erasure: what it sealed cannot be read."""

    def __init__(self, key_id: UUID) -> None:
        super().__init__(f"data key {key_id} was erased")
        self.key_id = key_id


class _Recent(Generic[K, V]):
    """A small thread-safe cache whose entries expire after `ttl` seconds."""

    def __init__(self, ttl: float, size: int = CACHE_SIZE) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if time.monotonic() - found[1] > self.ttl:
                del self._items[key]
                return None
            return found[0]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = (value, time.monotonic())
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop_where(self, value: V) -> None:
        with self._lock:
            for key in [k for k, (v, _) in self._items.items() if v == value]:
                del self._items[key]

    def drop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)


class DataKeys:
    """The store's data keys: found or made per patient, opened by id, erased."""

    def __init__(
        self,
        db: Database,
        master: MasterKey,
        previous: Sequence[MasterKey] = (),
        *,
        create: bool = True,
    ) -> None:
        self.db = db
        self.master = master
        self.masters = {m.id: m for m in (*previous, master)}
        self._ciphers: _Recent[UUID, AESGCM] = _Recent(CACHE_SECONDS)
        self._patients: _Recent[str, UUID] = _Recent(CACHE_SECONDS)
        self._pseudonym: bytes | None = None
        # Keys made here and not yet committed: key id -> (patient ref, row, cipher).
        self._pending: dict[UUID, tuple[str, tuple[Any, ...], AESGCM]] = {}
        self._pending_lock = threading.Lock()
        if create:
            with db.writing() as cur:
                for statement in (*_SCHEMA[db.dialect.name], _INDEX):
                    cur.execute(statement)

    def patient_ref(self, patient_id: str) -> str:
        """The keyed pseudonym of a patient (the same on every process of the store)."""
        secret = self._pseudonym or self._load_pseudonym_secret()
        return hmac.new(secret, patient_id.encode(), hashlib.sha256).hexdigest()

    def key_for_patient(self, patient_id: str) -> UUID:
        """The id of the patient's data key, made if the patient has none."""
        cached = self._patients.get(patient_id)
        if cached is not None:
            return cached
        ref = self.patient_ref(patient_id)
        key_id = self._key_of_ref(ref) or self._new_key(ref)
        self._patients.put(patient_id, key_id)
        return key_id

    def rides(self, placeholder: str) -> list[tuple[str, Sequence[Any]]]:
        """The rows of keys made here and not yet committed, for the next events'
        transaction to write (a `Rider` of the recorder)."""
        with self._pending_lock:
            rows = [row for _, row, _ in self._pending.values()]
        statement = (
            "INSERT INTO data_keys (key_id, patient_ref, wrapped, master_id, "
            "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING"
        ).replace("?", placeholder)
        return [(statement, row) for row in rows]

    def committed(self, rides: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """The keys in `rides` are stored: no transaction needs to carry them again."""
        with self._pending_lock:
            for _, row in rides:
                key_id = UUID(str(row[0]))
                stored = self._pending.pop(key_id, None)
                if stored is not None:
                    self._ciphers.put(key_id, stored[2])

    def key_of_patient(self, patient_id: str) -> UUID | None:
        """The id of the patient's data key, or None if it has none (or it was erased)."""
        return self._key_of_ref(self.patient_ref(patient_id))

    def cipher(self, key_id: UUID) -> AESGCM:
        """The AES-GCM cipher of a data key; KeyErased if an erasure deleted it."""
        cached = self._ciphers.get(key_id)
        if cached is not None:
            return cached
        with self._pending_lock:
            pending = self._pending.get(key_id)
        if pending is not None:
            return pending[2]
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT wrapped, master_id FROM data_keys WHERE key_id = ?",
                (str(key_id),),
            ).fetchone()
            erased = (
                row is None
                and cur.execute(
                    "SELECT 1 AS found FROM erased_keys WHERE key_id = ?",
                    (str(key_id),),
                ).fetchone()
                is not None
            )
        if erased:
            raise KeyErased(key_id)
        if row is None:
            raise SealError(f"data key {key_id} is missing (and was not erased)")
        aead = AESGCM(self._unwrap(bytes(row["wrapped"]), row["master_id"]))
        self._ciphers.put(key_id, aead)
        return aead

    def prefetch(self, key_ids: Iterable[UUID]) -> None:
        """Open many data keys with one read (per `PREFETCH_CHUNK`), for a caller
        about to open the payloads of many patients: one read per key costs a
        round trip each on PostgreSQL. Keys already cached, made here, erased or
        missing are passed by; `cipher` still tells those apart."""
        wanted = {key_id for key_id in key_ids if self._ciphers.get(key_id) is None}
        with self._pending_lock:
            wanted -= self._pending.keys()
        missing = sorted(str(key_id) for key_id in wanted)
        for i in range(0, len(missing), PREFETCH_CHUNK):
            chunk = missing[i : i + PREFETCH_CHUNK]
            with self.db.querying() as cur:
                rows = cur.execute(
                    "SELECT key_id, wrapped, master_id FROM data_keys "
                    f"WHERE key_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
            for row in rows:
                key = self._unwrap(bytes(row["wrapped"]), row["master_id"])
                self._ciphers.put(UUID(row["key_id"]), AESGCM(key))

    def erase(self, cur: Cursor, key_id: UUID, erasure_id: UUID, at: datetime) -> None:
        """Delete a data key inside the caller's transaction, noting that it was erased."""
        cur.execute("DELETE FROM data_keys WHERE key_id = ?", (str(key_id),))
        cur.execute(
            "INSERT INTO erased_keys (key_id, erasure_id, erased_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key_id) DO NOTHING",
            (str(key_id), str(erasure_id), self.db.dialect.param(at)),
        )

    def erase_patient(
        self, patient_id: str, erasure_id: UUID, at: datetime
    ) -> list[UUID]:
        """Delete every data key of a patient, in one transaction; their ids."""
        ref = self.patient_ref(patient_id)
        with self._pending_lock:
            unstored = [k for k, (r, _, _) in self._pending.items() if r == ref]
            for key_id in unstored:
                del self._pending[key_id]
        for key_id in unstored:
            self.forget(key_id)
        with self.db.writing() as cur:
            rows = cur.execute(
                "SELECT key_id FROM data_keys WHERE patient_ref = ?", (ref,)
            ).fetchall()
            key_ids = [UUID(row["key_id"]) for row in rows]
            for key_id in key_ids:
                self.erase(cur, key_id, erasure_id, at)
        for key_id in key_ids:
            self.forget(key_id)
        return key_ids

    def secret_of(self, key_id: UUID) -> bytes | None:
        """A data key itself, for an export to carry (None: it was erased)."""
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT wrapped, master_id FROM data_keys WHERE key_id = ?",
                (str(key_id),),
            ).fetchone()
        if row is None:
            if self.erased([key_id]):
                return None
            raise SealError(f"data key {key_id} is missing (and was not erased)")
        return self._unwrap(bytes(row["wrapped"]), row["master_id"])

    def adopt(
        self, patient_id: str, key_id: UUID, secret: bytes | None, erasure: UUID
    ) -> None:
        """Keep a data key brought by an import, wrapped by this store's master;
        `secret` None records the key as erased (with the `erasure` that did it)."""
        ref = self.patient_ref(patient_id)  # before the write: it may write a secret
        with self.db.writing() as cur:
            if secret is None:
                cur.execute(
                    "INSERT INTO erased_keys (key_id, erasure_id, erased_at) "
                    "VALUES (?, ?, ?) ON CONFLICT (key_id) DO NOTHING",
                    (
                        str(key_id),
                        str(erasure),
                        self.db.dialect.param(datetime.now(UTC)),
                    ),
                )
                return
            cur.execute(
                "INSERT INTO data_keys (key_id, patient_ref, wrapped, master_id, "
                "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING",
                (
                    str(key_id),
                    ref,
                    self.master.wrap(secret),
                    self.master.id,
                    self.db.dialect.param(datetime.now(UTC)),
                ),
            )
        if self.secret_of(key_id) != secret:
            raise SealError(f"data key {key_id} is already held here, with other bytes")

    def forget(self, key_id: UUID) -> None:
        """Drop a key from this process's caches (after an erasure)."""
        self._ciphers.drop(key_id)
        self._patients.drop_where(key_id)

    def rotate(self) -> int:
        """Re-wrap every data key and secret under the current master; how many.

        Payloads are untouched: only the wrapped keys change, in one transaction.
        """
        rewrapped = 0
        with self.db.writing() as cur:
            for table, column in (("data_keys", "key_id"), ("crypto_secrets", "name")):
                rows = cur.execute(
                    f"SELECT {column} AS id, wrapped, master_id FROM {table} "
                    "WHERE master_id <> ?",
                    (self.master.id,),
                ).fetchall()
                for row in rows:
                    key = self._unwrap(bytes(row["wrapped"]), row["master_id"])
                    cur.execute(
                        f"UPDATE {table} SET wrapped = ?, master_id = ? "
                        f"WHERE {column} = ?",
                        (self.master.wrap(key), self.master.id, row["id"]),
                    )
                    rewrapped += 1
        self._ciphers = _Recent(CACHE_SECONDS)
        return rewrapped

    def masters_in_use(self) -> dict[str, int]:
        """How many keys and secrets each master key id wraps."""
        counts: dict[str, int] = {}
        with self.db.reading() as cur:
            for table in ("data_keys", "crypto_secrets"):
                for row in cur.execute(
                    f"SELECT master_id, COUNT(*) AS n FROM {table} GROUP BY master_id"
                ).fetchall():
                    counts[row["master_id"]] = counts.get(row["master_id"], 0) + int(
                        row["n"]
                    )
        return counts

    def erased(self, key_ids: Iterable[UUID]) -> set[UUID]:
        """Which of these key ids were erased."""
        ids = [str(k) for k in key_ids]
        if not ids:
            return set()
        with self.db.reading() as cur:
            rows = cur.execute(
                "SELECT key_id FROM erased_keys "
                f"WHERE key_id IN ({', '.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {UUID(row["key_id"]) for row in rows}

    # -- storage ------------------------------------------------------------------

    def _key_of_ref(self, ref: str) -> UUID | None:
        # A patient may hold more than one key (one made here, others imported
        # with episodes from another store): new payloads take the oldest.
        with self.db.reading() as cur:
            row = cur.execute(
                "SELECT key_id FROM data_keys WHERE patient_ref = ? "
                "ORDER BY created_at, key_id LIMIT 1",
                (ref,),
            ).fetchone()
        return None if row is None else UUID(row["key_id"])

    def _new_key(self, ref: str) -> UUID:
        # Made in memory, stored with the first events that use it. Two processes
        # may make a new patient's key at once: both rows stay (each payload names
        # its key, and an erasure deletes them all); new payloads take the oldest.
        with self._pending_lock:
            for key_id, (pending_ref, _, _) in self._pending.items():
                if pending_ref == ref:
                    return key_id
            key_id, secret = uuid4(), new_data_key()
            row = (
                str(key_id),
                ref,
                self.master.wrap(secret),
                self.master.id,
                self.db.dialect.param(datetime.now(UTC)),
            )
            self._pending[key_id] = (ref, row, AESGCM(secret))
        return key_id

    def _load_pseudonym_secret(self) -> bytes:
        with self.db.writing() as cur:
            cur.execute(
                "INSERT INTO crypto_secrets (name, wrapped, master_id) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (PSEUDONYM_SECRET, self.master.wrap(new_data_key()), self.master.id),
            )
            row = cur.execute(
                "SELECT wrapped, master_id FROM crypto_secrets WHERE name = ?",
                (PSEUDONYM_SECRET,),
            ).fetchone()
        assert row is not None
        self._pseudonym = self._unwrap(bytes(row["wrapped"]), row["master_id"])
        return self._pseudonym

    def _unwrap(self, wrapped: bytes, master_id: str) -> bytes:
        master = self.masters.get(master_id)
        if master is None:
            raise SealError(
                f"a key is wrapped by master key {master_id}, which this process "
                "does not have (CARE_MASTER_KEY, CARE_PREVIOUS_MASTER_KEYS)"
            )
        return master.unwrap(wrapped)
