"""An admin's upload, turned into pack files with every defence applied before reading.

A .zip of the pack's YAML files, or one YAML file that replaces that file of the live pack.
Nothing here touches the disk: the zip is read from memory, entry by entry, and only after
its directory passed the checks (size, entry count, names, declared sizes, compression
ratio); each entry is then read through a bounded reader, so a header that lies about its
size cannot inflate past the limit either.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from bot.content_files import is_pack_file

MAX_UPLOAD_BYTES = 1024 * 1024  # what is downloaded at all (the shipped pack zips to ~150 kB)
MAX_FILE_BYTES = 1024 * 1024  # one unpacked YAML file
MAX_UNPACKED_BYTES = 4 * 1024 * 1024  # all unpacked files together
MAX_ENTRIES = 64
MAX_RATIO = 50  # unpacked / packed per entry; YAML compresses ~5-10x, bombs by 1000x
# Entries that archivers add on their own and that are skipped, not refused.
_IGNORED_PARTS = ("__MACOSX", ".DS_Store")


class UploadRefused(ValueError):
    """The upload is refused before its content is read; the message says why."""


@dataclass(frozen=True)
class Unpacked:
    """The pack files an upload gives, and which of them came from the live pack."""

    files: Mapping[str, str]
    replaced: tuple[str, ...] = ()
    kept_from_live: tuple[str, ...] = field(default=())
    kind: str = "zip"  # zip | file


def check_declared_size(file_name: str, size: int | None) -> None:
    """Before downloading: only .zip/.yaml names, and not more than MAX_UPLOAD_BYTES."""
    lowered = file_name.lower()
    if not lowered.endswith((".zip", ".yaml", ".yml")):
        raise UploadRefused(
            f"{file_name!r} is not a content pack: send a .zip of the pack's YAML files, "
            "or one .yaml file of it"
        )
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise UploadRefused(
            f"{file_name!r} is {size:,} bytes; a content pack may be at most "
            f"{MAX_UPLOAD_BYTES:,} bytes"
        )


def _decoded(name: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UploadRefused(f"{name} is not UTF-8 text (byte {error.start})") from None
    return text.removeprefix("\ufeff")


def _entry_name(info: zipfile.ZipInfo) -> str | None:
    """The pack file name an entry stands for; None to skip it; UploadRefused when unsafe."""
    raw = info.filename
    if "\\" in raw or raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise UploadRefused(f"zip entry {raw!r} has an absolute or Windows path")
    path = PurePosixPath(raw)
    if any(part in ("..", "") for part in path.parts) and not info.is_dir():
        raise UploadRefused(f"zip entry {raw!r} points outside the pack")
    if any(part in _IGNORED_PARTS for part in path.parts):
        return None
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UploadRefused(f"zip entry {raw!r} is a symbolic link")
    if info.is_dir():
        return None
    if info.flag_bits & 0x1:
        raise UploadRefused(f"zip entry {raw!r} is encrypted")
    if len(path.parts) > 2:
        raise UploadRefused(
            f"zip entry {raw!r} is nested too deep: put the YAML files at the top of the zip "
            "(or in one folder)"
        )
    if not is_pack_file(path.name):
        raise UploadRefused(
            f"zip entry {raw!r} is not a content pack file (expected pack.yaml, snippets.yaml, "
            "rules.yaml, questions.yaml, redflags.yaml, messages*.yaml, ...)"
        )
    return path.name


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read at most MAX_FILE_BYTES + 1, whatever the header claims."""
    with archive.open(info) as entry:
        data = entry.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UploadRefused(f"{info.filename} unpacks to more than {MAX_FILE_BYTES:,} bytes")
    return data


def unpack_zip(data: bytes) -> dict[str, str]:
    """The pack files of a zip; every check on the directory runs before any entry is read."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"the zip is larger than {MAX_UPLOAD_BYTES:,} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UploadRefused("the file is not a readable .zip archive") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise UploadRefused(f"the zip has {len(infos)} entries; at most {MAX_ENTRIES}")
        chosen: dict[str, zipfile.ZipInfo] = {}
        folders: set[str] = set()
        declared = 0
        for info in infos:
            name = _entry_name(info)
            if name is None:
                continue
            if name in chosen:
                raise UploadRefused(f"the zip holds {name} twice")
            parts = PurePosixPath(info.filename).parts
            folders.add(parts[0] if len(parts) == 2 else "")
            if info.file_size > MAX_FILE_BYTES:
                raise UploadRefused(f"{info.filename} unpacks to {info.file_size:,} bytes")
            if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > 4096:
                raise UploadRefused(f"{info.filename} is compressed suspiciously well")
            declared += info.file_size
            chosen[name] = info
        if len(folders) > 1:
            raise UploadRefused("the zip mixes files from several folders; use one")
        if declared > MAX_UNPACKED_BYTES:
            raise UploadRefused(f"the zip unpacks to more than {MAX_UNPACKED_BYTES:,} bytes")
        if not chosen:
            raise UploadRefused("the zip holds no content pack files")
        files: dict[str, str] = {}
        total = 0
        for name, info in sorted(chosen.items()):
            try:
                raw = _read_bounded(archive, info)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError) as error:
                raise UploadRefused(
                    f"{info.filename} cannot be read ({type(error).__name__})"
                ) from None
            total += len(raw)
            if total > MAX_UNPACKED_BYTES:
                raise UploadRefused(f"the zip unpacks to more than {MAX_UNPACKED_BYTES:,} bytes")
            files[name] = _decoded(name, raw)
    return files


def unpack_upload(file_name: str, data: bytes, live: Mapping[str, str]) -> Unpacked:
    """A zip is the whole pack; one YAML file replaces that file of the live pack."""
    check_declared_size(file_name, len(data))
    if file_name.lower().endswith(".zip"):
        files = unpack_zip(data)
        return Unpacked(files=files, replaced=tuple(sorted(files)), kind="zip")
    name = PurePosixPath(file_name.replace("\\", "/")).name
    if name.endswith(".yml"):
        name = name[: -len(".yml")] + ".yaml"
    if not is_pack_file(name):
        raise UploadRefused(
            f"{file_name!r} is not one of the pack's files (pack.yaml, snippets.yaml, "
            "rules.yaml, topics.yaml, sources.yaml, synonyms.yaml, questions.yaml, "
            "redflags.yaml, messages*.yaml)"
        )
    if len(data) > MAX_FILE_BYTES:
        raise UploadRefused(f"{name} is larger than {MAX_FILE_BYTES:,} bytes")
    files = {**live, name: _decoded(name, data)}
    kept = tuple(sorted(other for other in live if other != name))
    return Unpacked(files=files, replaced=(name,), kept_from_live=kept, kind="file")
