"""The engine's local copies of S3 objects: each one decoded once into a Parquet file in its table's column types.

Athena reads S3 on every query, and so, in effect, does localaws: every query plans and bills the objects it reads
(``DataScannedInBytes``, the scan cut-off), but the bytes it scans are a local columnar copy rather than the
object's gzip JSON lines, which DuckDB would otherwise decompress and parse again on every query.

- **Keyed by bucket, key, ETag and the decoding** (the exact SQL that turns the object's lines into the table's
  typed columns): an overwritten object (a new ETag), or a table whose columns or SerDe settings changed, is
  decoded again; the copy no longer asked for ages out.
- **Exact.** A copy is the result of reading every column of the object as the query itself would. When that read
  fails (a value that does not fit its column, a line that is not JSON), nothing is cached: queries read that
  object's lines directly, as they would without the cache, so they fail or succeed exactly as before.
- **Bounded.** The least recently used copies are deleted once their total size passes the limit
  (``LOCALAWS_ATHENA_CACHE_MB``, default 1024 MB; 0 turns the cache off); copies in use by a running query are
  kept until it ends. An object's lines are read from moto's S3 only while a query needs them (to decode it, or to
  read an object that cannot be cached) into that query's staging folder, deleted when the query ends.
- **Temporary.** Everything lives under one temporary directory per engine, removed by ``close()`` (and at exit).
- The top-level JSON keys of each object (the OpenX SerDe matches keys to columns case-insensitively) are
  remembered per bucket/key/ETag too.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localaws.athena_engine.catalog import S3Object, read_object

ENV_LIMIT_MB = "LOCALAWS_ATHENA_CACHE_MB"
DEFAULT_LIMIT_MB = 1024
_MEMO_LIMIT = 100_000  # remembered key sets / undecodable objects (a few hundred bytes each)

ObjectId = tuple[str, str, str]  # bucket, key, ETag
CacheKey = tuple[str, str, str, str]  # bucket, key, ETag, digest of the decoding


def limit_from_environment() -> int:
    """The cache's size limit in bytes: ``LOCALAWS_ATHENA_CACHE_MB`` (a whole number of MB, 0 = off)."""
    raw = os.environ.get(ENV_LIMIT_MB, "").strip()
    if not raw:
        return DEFAULT_LIMIT_MB * 1024 * 1024
    try:
        megabytes = int(raw)
    except ValueError:
        megabytes = -1
    if megabytes < 0:
        raise ValueError(f"{ENV_LIMIT_MB} must be a whole number of megabytes, 0 or more (0 = no cache); got {raw!r}")
    return megabytes * 1024 * 1024


def object_id(obj: S3Object) -> ObjectId:
    return (obj.bucket, obj.key, obj.etag)


@dataclass
class _Entry:
    path: Path
    size: int
    pins: int = 0


class ObjectCache:
    """Decoded copies (Parquet files) of S3 objects, least recently used first out; one per engine."""

    def __init__(self, limit_bytes: int | None = None) -> None:
        self.limit = limit_from_environment() if limit_bytes is None else limit_bytes
        self._lock = threading.Lock()
        self._directory: Path | None = None
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()  # least recently used first
        self._building: dict[CacheKey, threading.Lock] = {}
        self._undecodable: OrderedDict[CacheKey, None] = OrderedDict()
        self._keys: OrderedDict[ObjectId, frozenset[str]] = OrderedDict()
        self.bytes = 0  # total size of the cached copies
        self.hits = self.decoded = self.evicted = self.s3_reads = 0

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def directory(self) -> Path:
        with self._lock:
            if self._directory is None or not self._directory.exists():
                self._directory = Path(tempfile.mkdtemp(prefix="localaws-athena-cache-"))
                atexit.register(shutil.rmtree, self._directory, True)
                self._entries.clear()
                self.bytes = 0
            return self._directory

    def lease(self, account: str, region: str) -> Lease:
        """What one query uses: the copies it reads stay until ``Lease.release()``."""
        return Lease(self, account, region)

    # -- JSON keys -----------------------------------------------------------------------------------------------
    def json_keys(self, obj: S3Object) -> frozenset[str] | None:
        with self._lock:
            return self._keys.get(object_id(obj))

    def remember_keys(self, obj: S3Object, keys: frozenset[str]) -> None:
        with self._lock:
            self._keys[object_id(obj)] = keys
            while len(self._keys) > _MEMO_LIMIT:
                self._keys.popitem(last=False)

    # -- copies --------------------------------------------------------------------------------------------------
    def _pin(self, key: CacheKey) -> Path | None:
        """The copy's path, pinned and made most recently used; None when there is none. Holds ``_lock``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not entry.path.exists():  # removed behind our back: forget it
            if not entry.pins:
                del self._entries[key]
                self.bytes -= entry.size
            return None
        entry.pins += 1
        self._entries.move_to_end(key)
        return entry.path

    def lookup(self, key: CacheKey) -> Path | None:
        """The pinned copy for ``key`` if there is one (nothing is built)."""
        with self._lock:
            path = self._pin(key)
            if path is not None:
                self.hits += 1
            return path

    def undecodable(self, key: CacheKey) -> bool:
        with self._lock:
            return key in self._undecodable

    def _known(self, key: CacheKey) -> tuple[bool, Path | None]:
        """Under the lock: (True, pinned copy) on a hit, (True, None) when undecodable, (False, None) to build."""
        path = self._pin(key)
        if path is not None:
            self.hits += 1
            return True, path
        return key in self._undecodable, None

    def acquire(self, key: CacheKey, build: Callable[[Path], bool]) -> Path | None:
        """The pinned copy for ``key``, made by ``build(path)`` when missing; None if it cannot be made.

        ``build`` writes the copy to the path it is given and returns False when the object cannot be decoded
        (the caller then reads it directly); any exception it raises (an interrupt) propagates, leaving nothing.
        """
        with self._lock:
            known, path = self._known(key)
            if known:
                return path
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:  # another thread may have built it while this one waited
                known, path = self._known(key)
                if known:
                    return path
            digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:40]
            target = self.directory() / f"{digest}.parquet"
            partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
            try:
                built = build(partial)
                if built:
                    os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                if not built:
                    self._undecodable[key] = None
                    while len(self._undecodable) > _MEMO_LIMIT:
                        self._undecodable.popitem(last=False)
                    return None
                size = target.stat().st_size
                self._entries[key] = _Entry(target, size, pins=1)
                self.bytes += size
                self.decoded += 1
                self._forget_other_versions(key)
                self._evict()
            return target

    def release(self, keys: list[CacheKey]) -> None:
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None and entry.pins > 0:
                    entry.pins -= 1
            self._evict()

    def _forget_other_versions(self, key: CacheKey) -> None:
        """Copies of the same S3 key with another ETag: the object was overwritten, no listing returns them again."""
        bucket, name, etag, _ = key
        for other in [k for k in self._entries if k[0] == bucket and k[1] == name and k[2] != etag]:
            entry = self._entries[other]
            if not entry.pins:
                del self._entries[other]
                entry.path.unlink(missing_ok=True)
                self.bytes -= entry.size
                self.evicted += 1

    def _evict(self) -> None:
        """Delete least recently used copies not in use until the total is within the limit. Holds ``_lock``."""
        if self.bytes <= self.limit:
            return
        for key in list(self._entries):
            entry = self._entries[key]
            if entry.pins:
                continue
            del self._entries[key]
            entry.path.unlink(missing_ok=True)
            self.bytes -= entry.size
            self.evicted += 1
            if self.bytes <= self.limit:
                return

    def close(self) -> None:
        with self._lock:
            directory, self._directory = self._directory, None
            self._entries.clear()
            self._undecodable.clear()
            self._keys.clear()
            self.bytes = 0
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


class Lease:
    """One query's use of the cache: its pinned copies and its staging folder of objects read from S3."""

    def __init__(self, cache: ObjectCache, account: str, region: str) -> None:
        self.cache = cache
        self.account, self.region = account, region
        self._lock = threading.Lock()  # a query may decode several objects at once
        self._pinned: list[CacheKey] = []
        self._raw: dict[ObjectId, Path] = {}
        self._files = 0
        self._staging: Path | None = None

    def raw(self, obj: S3Object) -> Path:
        """A local file holding the object's bytes as stored in S3 (read once per query)."""
        with self._lock:
            known = self._raw.get(object_id(obj))
            if known is not None:
                return known
            if self._staging is None:
                self._staging = Path(tempfile.mkdtemp(prefix="staging-", dir=self.cache.directory()))
            self._files += 1
            # Hadoop (and DuckDB's auto-detection) choose the decompression by the object's name.
            suffix = "".join(Path(obj.key.rsplit("/", 1)[-1]).suffixes[-1:]).lower()
            suffix = {".gzip": ".gz"}.get(suffix, suffix if suffix in (".gz", ".zst", ".json") else "")
            path = self._staging / f"{self._files}{suffix}"
        path.write_bytes(read_object(self.account, self.region, obj))
        with self._lock:
            self._raw.setdefault(object_id(obj), path)
            path = self._raw[object_id(obj)]
        with self.cache._lock:
            self.cache.s3_reads += 1
        return path

    def cached(self, obj: S3Object, digest: str) -> Path | None:
        """The object's copy under this decoding if the cache has it (pinned), else None."""
        if not self.cache.enabled:
            return None
        return self._pinned_if(self.cache.lookup((*object_id(obj), digest)), (*object_id(obj), digest))

    def cacheable(self, obj: S3Object, digest: str) -> bool:
        """False when the cache is off or the object is known not to decode under this decoding."""
        return self.cache.enabled and not self.cache.undecodable((*object_id(obj), digest))

    def decoded(self, obj: S3Object, digest: str, build: Callable[[Path], bool]) -> Path | None:
        """The object's cached copy under this decoding (made now if missing), pinned; None if not cacheable."""
        if not self.cache.enabled:
            return None
        key: CacheKey = (*object_id(obj), digest)
        return self._pinned_if(self.cache.acquire(key, build), key)

    def _pinned_if(self, path: Path | None, key: CacheKey) -> Path | None:
        if path is not None:
            with self._lock:
                self._pinned.append(key)
        return path

    def release(self) -> None:
        with self._lock:
            pinned, self._pinned = self._pinned, []
            staging, self._staging = self._staging, None
            self._raw.clear()
        self.cache.release(pinned)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
