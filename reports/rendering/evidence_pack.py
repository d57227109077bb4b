"""The evidence pack: one zip an auditor can keep, holding the rendered report, the snapshot
files it was computed from, the attestations and their evidence files, and a manifest of every
file's SHA-256; :func:`verify_pack` says which file is missing, changed or extra.

The manifest (``manifest.json``) cannot hash itself: its own SHA-256 is returned when the pack
is written, for the person to keep outside the pack (a ticket, an email), so a pack rewritten
whole with a new manifest is caught too. Files are added by streaming from disk, so a large
snapshot never sits whole in memory; hashes are taken of the very bytes written.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from store.snapshots import SnapshotEntry

MANIFEST = "manifest.json"
PACK_FORMAT = "cyberwell-evidence-pack/1"
_CHUNK = 1 << 20


class PackError(ValueError):
    """A pack that cannot be read as one (not a zip, no manifest, a manifest of the wrong shape)."""


@dataclass(frozen=True)
class PackFile:
    """A file to put in the pack: where it is on disk and its name inside the pack."""

    source: Path
    name: str


@dataclass(frozen=True)
class PackReceipt:
    path: Path
    files: int
    manifest_sha256: str


@dataclass(frozen=True)
class PackVerdict:
    path: Path
    checked: int
    missing: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    manifest_sha256: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra or self.problems)

    def lines(self) -> list[str]:
        """One line per problem, each naming the file, for a person or a log."""
        return [
            *(f"missing: {name} is in the manifest but not in the pack" for name in self.missing),
            *(f"changed: {name} does not match its SHA-256 in the manifest" for name in self.changed),
            *(f"extra: {name} is in the pack but not in the manifest" for name in self.extra),
            *self.problems,
        ]


def report_files(
    rendered: Iterable[Path], evidence: Sequence[SnapshotEntry], root: Path, index: Path
) -> list[PackFile]:
    """The rendered files, the snapshot files a report read (``root``: the evidence directory)
    and their manifest lines, written to ``index`` and packed as ``evidence/snapshots.jsonl``."""
    index.write_text("".join(entry.to_json() + "\n" for entry in evidence), encoding="utf-8")
    files = [PackFile(path, f"report/{path.name}") for path in rendered]
    files.append(PackFile(index, "evidence/snapshots.jsonl"))
    files += [PackFile(root / entry.file, f"evidence/{entry.file}") for entry in evidence if entry.file is not None]
    return files


def write_pack(path: Path, files: Iterable[PackFile], about: dict[str, object] | None = None) -> PackReceipt:
    """Write the pack to ``path`` (temporary name, fsync, rename) and return the manifest's hash."""
    entries = []
    seen: set[str] = set()
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in files:
            name = _safe_name(item.name)
            if name in seen or name == MANIFEST:
                raise PackError(f"{path.name}: {name} would be in the pack twice")
            seen.add(name)
            digest, size = _copy_in(archive, item.source, name)
            entries.append({"path": name, "sha256": digest, "bytes": size})
        manifest = {
            "format": PACK_FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "about": about or {},
            "files": entries,
        }
        body = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")
        archive.writestr(MANIFEST, body)
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)
    return PackReceipt(path, len(entries), hashlib.sha256(body).hexdigest())


def verify_pack(path: Path, expect_manifest: str | None = None) -> PackVerdict:
    """Every file of the manifest present with its hash, and nothing else in the pack."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise PackError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise PackError(f"{path}: not a zip file ({error})") from None
    with archive:
        body = _manifest_bytes(archive, path)
        listed = _listed(body, path)
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        # A zip may hold one name twice, and readers disagree on which copy they show.
        doubled = sorted(name for name, count in Counter(names).items() if count > 1)
        present = set(names) - {MANIFEST}
        missing = sorted(set(listed) - present)
        extra = sorted(present - set(listed))
        changed = sorted(name for name in set(listed) & present if _hash_member(archive, name) != listed[name])
    digest = hashlib.sha256(body).hexdigest()
    problems = tuple(f"doubled: {name} is in the pack more than once" for name in doubled)
    if expect_manifest is not None and expect_manifest.lower() != digest:
        problems += (f"manifest: its SHA-256 is {digest}, not the {expect_manifest} kept for this pack",)
    return PackVerdict(path, len(listed), tuple(missing), tuple(changed), tuple(extra), digest, problems)


def _manifest_bytes(archive: zipfile.ZipFile, path: Path) -> bytes:
    try:
        return archive.read(MANIFEST)
    except KeyError:
        raise PackError(f"{path}: has no {MANIFEST}; it is not a Cyberwell evidence pack") from None


def _listed(body: bytes, path: Path) -> dict[str, str]:
    try:
        manifest = json.loads(body)
        files = manifest["files"]
        if manifest.get("format") != PACK_FORMAT:
            raise ValueError(f"format is {manifest.get('format')!r}, expected {PACK_FORMAT!r}")
        return {str(entry["path"]): str(entry["sha256"]).lower() for entry in files}
    except (ValueError, KeyError, TypeError) as error:
        raise PackError(f"{path}: {MANIFEST} is not a pack manifest: {error}") from None


def _copy_in(archive: zipfile.ZipFile, source: Path, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as handle, archive.open(name, "w", force_zip64=True) as out:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _hash_member(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    try:
        with archive.open(name) as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError):
        return ""  # a corrupt member (bad CRC) is a changed one
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    """A member name that extracts inside the folder it is extracted in."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise PackError(f"pack member name {name!r}: expected a relative path without '..'")
    return str(pure)
