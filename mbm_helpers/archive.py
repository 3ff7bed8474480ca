"""Read N-BaIoT CSV bytes out of the official zip and its RAR members, without extracting to disk.

The official archive nests RARs in a zip: ``<Device>/gafgyt_attacks.rar`` holds ``combo.csv``,
``junk.csv``, ... at its root. Python cannot read RAR, so the RAR is streamed from the zip
member (or from disk) through libarchive (``libarchive-c``, free software). Every member's
size and CRC is checked; a truncated or corrupt zip or RAR raises :class:`DataError` naming it.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import PurePosixPath

import libarchive
from libarchive.exception import ArchiveError

from mbm_helpers.errors import DataError
from mbm_helpers.layouts import RarSource, SourceFile

_READ_ERRORS = (ArchiveError, zipfile.BadZipFile, zlib.error, EOFError, OSError)


@contextmanager
def _rar_reader(location: tuple[str, ...]) -> Iterator[libarchive.read.ArchiveRead]:
    """Open a RAR on disk (``(path,)``) or inside a zip (``(zip, member)``) for streaming."""
    where = "!".join(location)
    try:
        with ExitStack() as stack:
            if len(location) == 1:
                archive = stack.enter_context(libarchive.file_reader(location[0], "rar"))
            else:
                zf = stack.enter_context(zipfile.ZipFile(location[0]))
                stream = stack.enter_context(zf.open(location[1]))
                archive = stack.enter_context(libarchive.stream_reader(stream, "rar", block_size=1 << 20))
            yield archive
    except DataError:
        raise
    except _READ_ERRORS as exc:
        raise DataError(f"{where}: corrupt or truncated RAR archive ({exc})") from exc


def rar_members(rar: RarSource) -> list[str]:
    """Names of the regular files inside an attacks RAR (reads through it once)."""
    with _rar_reader(rar.location) as archive:
        return [entry.pathname for entry in archive if entry.isfile]


def iter_rar_members(rar: RarSource, wanted: set[str]) -> Iterator[tuple[str, bytearray]]:
    """Yield ``(member, data)`` for each wanted member of a RAR, in archive order, size-checked."""
    where = "!".join(rar.location)
    seen: set[str] = set()
    with _rar_reader(rar.location) as archive:
        for entry in archive:
            if not entry.isfile or entry.pathname not in wanted:
                continue
            expected = entry.size
            data = bytearray(expected or 0)
            view = memoryview(data)
            got = 0
            for block in entry.get_blocks():
                n = len(block)
                if got + n > len(data):
                    data.extend(b"\0" * (got + n - len(data)))
                    view = memoryview(data)
                view[got : got + n] = block
                got += n
            view.release()
            if expected is not None and got != expected:
                raise DataError(
                    f"{where}!{entry.pathname}: truncated RAR member ({got:,} of {expected:,} bytes)"
                )
            del data[got:]
            seen.add(entry.pathname)
            yield entry.pathname, data
    missing = wanted - seen
    if missing:
        raise DataError(f"{where}: member(s) {', '.join(sorted(missing))} not found in the RAR")


def read_zip_member(zip_path: str, member: str) -> bytes:
    """The bytes of one zip member (CRC-checked by :mod:`zipfile`)."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            return zf.read(member)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise DataError(f"{zip_path}!{member}: cannot read zip member ({exc})") from exc


def is_rar_member(src: SourceFile) -> bool:
    """Whether a source CSV lives inside a RAR (as opposed to a plain file or zip member)."""
    return len(src.location) >= 2 and PurePosixPath(src.location[-2]).suffix.lower() == ".rar"
