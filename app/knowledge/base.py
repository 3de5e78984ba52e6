"""Loading, validating and hot-swapping knowledge_base.json.

``load_kb(path)`` returns a :class:`KnowledgeBase` or raises :class:`KnowledgeBaseError` whose
``errors`` list holds every problem found, each formatted ``path.to[3].field: reason``.
:class:`KnowledgeStore` keeps the last valid version (plus its search index) and swaps in a new
one atomically on reload, keeping the old one when the new file is invalid.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .schema import (
    FaqEntry,
    KnowledgeBaseFile,
    NotOffered,
    Offers,
    Product,
    School,
    WorkingHours,
    validate_data,
)

if TYPE_CHECKING:  # pragma: no cover
    from .search import Hit, KnowledgeIndex


class KnowledgeBaseError(Exception):
    """The file is missing, not JSON, or does not follow the schema. ``errors`` lists all problems."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# ---------------------------------------------------------------------------- the knowledge base

class KnowledgeBase:
    """A validated knowledge base with lookup helpers. Immutable."""

    def __init__(self, data: KnowledgeBaseFile, content_hash: str, path: str | None = None):
        self.data = data
        self.content_hash = content_hash
        self.path = path
        self._products = {p.id: p for p in data.products}
        self._faq = {f.id: f for f in data.faq}

    products = property(lambda self: self.data.products)

    @property
    def school(self) -> School:
        return self.data.school

    @property
    def faq_entries(self) -> list[FaqEntry]:
        return self.data.faq

    @property
    def offers(self) -> Offers:
        return self.data.offers

    @property
    def not_offered(self) -> list[NotOffered]:
        return self.data.not_offered

    @property
    def file_version(self) -> int | str:
        return self.data.version

    @property
    def version(self) -> str:
        """The file's ``version`` field plus a short content hash, e.g. ``1-3f2a9c0d1b7e``."""
        return f"{self.data.version}-{self.content_hash}"

    @property
    def working_hours(self) -> WorkingHours:
        return self.data.school.working_hours

    @property
    def max_discount_percent(self) -> int:
        return self.data.offers.max_discount_percent

    def product(self, entry_id: str) -> Product | None:
        return self._products.get(entry_id)

    def faq(self, entry_id: str) -> FaqEntry | None:
        return self._faq.get(entry_id)

    def entry(self, entry_id: str) -> Product | FaqEntry | None:
        return self._products.get(entry_id) or self._faq.get(entry_id)

    def ids(self) -> list[str]:
        return [*self._products, *self._faq]

    def entries(self) -> Iterator[Product | FaqEntry]:
        yield from self.data.products
        yield from self.data.faq

    def prices(self) -> set[int]:
        """Every price in the file (products and extensions), for guardrails on model replies."""
        out = {p.price_rub for p in self.data.products}
        out |= {p.extension.price_rub for p in self.data.products if p.extension}
        return out

    def __repr__(self) -> str:
        return f"<KnowledgeBase {self.version}: {len(self.products)} products, {len(self.faq_entries)} faq>"


def parse_kb(raw: bytes, source: str = "knowledge_base.json", path: str | None = None) -> KnowledgeBase:
    """Parse and validate file content; raise KnowledgeBaseError listing every problem."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise KnowledgeBaseError([f"{source}: not valid UTF-8 text ({exc.reason})"]) from None
    except json.JSONDecodeError as exc:
        raise KnowledgeBaseError(
            [f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]) from None
    except (RecursionError, ValueError) as exc:  # absurd nesting, a 5000-digit number
        raise KnowledgeBaseError([f"{source}: invalid JSON: {str(exc)[:120]}"]) from None
    model, errors = validate_data(data)
    if errors or model is None:
        raise KnowledgeBaseError(errors)
    return KnowledgeBase(model, hashlib.sha256(raw).hexdigest()[:12], path)


def load_kb(path: str | os.PathLike[str]) -> KnowledgeBase:
    """Read and validate a knowledge base file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise KnowledgeBaseError([f"{p}: file not found"]) from None
    except OSError as exc:
        raise KnowledgeBaseError([f"{p}: cannot read file: {exc.strerror or exc}"]) from None
    return parse_kb(raw, source=str(p), path=str(p))


# ---------------------------------------------------------------------------- the store

@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    version: str | None  # the version being served after the call
    errors: list[str] = field(default_factory=list)
    changed: bool = False  # True when a new version was swapped in


@dataclass(frozen=True)
class Snapshot:
    kb: KnowledgeBase
    index: "KnowledgeIndex"


class KnowledgeStore:
    """Thread-safe holder of the current valid knowledge base and its search index."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._stat: tuple[int, int] | None = None
        self.last_errors: list[str] = []

    @staticmethod
    def _build(kb: KnowledgeBase) -> Snapshot:
        from .search import KnowledgeIndex
        return Snapshot(kb, KnowledgeIndex.build(kb))

    def _file_stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat() if self.path else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size) if st else None

    def load(self, path: str | os.PathLike[str] | None = None) -> KnowledgeBase:
        """Initial load. Raises KnowledgeBaseError if the file is invalid and nothing is loaded yet;
        with a previous version loaded, behaves like :meth:`reload` but still raises on error."""
        if path is not None:
            self.path = Path(path)
        result = self.reload()
        if not result.ok:
            raise KnowledgeBaseError(result.errors)
        return self.current

    def reload(self) -> ReloadResult:
        """Validate the file again; swap it in if valid, otherwise keep serving the old version."""
        if self.path is None:
            raise ValueError("KnowledgeStore has no path; call load(path) first")
        with self._lock:
            stat = self._file_stat()
            try:
                snapshot = self._build(load_kb(self.path))
            except KnowledgeBaseError as exc:
                self.last_errors = exc.errors
                old = self._snapshot.kb.version if self._snapshot else None
                return ReloadResult(False, old, list(exc.errors))
            changed = self._snapshot is None or self._snapshot.kb.version != snapshot.kb.version
            self._snapshot, self._stat, self.last_errors = snapshot, stat, []
            return ReloadResult(True, snapshot.kb.version, [], changed)

    def reload_if_changed(self) -> ReloadResult | None:
        """Reload when the file's mtime or size changed since the last attempt; None otherwise."""
        stat = self._file_stat()
        if stat is None or stat == self._stat:
            return None
        result = self.reload()
        if not result.ok:
            self._stat = stat  # do not retry the same broken file on every tick
        return result

    def _require(self) -> Snapshot:
        snap = self._snapshot
        if snap is None and self.path is not None:
            self.load()  # lazy first load (CLI processes); raises KnowledgeBaseError if invalid
            snap = self._snapshot
        if snap is None:
            raise RuntimeError("knowledge base is not loaded")
        return snap

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    @property
    def current(self) -> KnowledgeBase:
        return self._require().kb

    @property
    def index(self) -> "KnowledgeIndex":
        return self._require().index

    def snapshot(self) -> Snapshot:
        """The KB and its index as one consistent pair (use when you need both)."""
        return self._require()

    def search(self, query: str, k: int = 3) -> list["Hit"]:
        return self._require().index.search(query, k)
