"""Read N-BaIoT CSV bytes out of the official zip and its RAR members, without extracting to disk.

The official archive nests RARs in a zip: ``<Device>/gafgyt_attacks.rar`` holds ``combo.csv``,
``junk.csv``, ... at its root. Python cannot read RAR, so the RAR is streamed from the zip
member (or from disk) through libarchive (``libarchive-c``, free software). Every member's
size and CRC-32 is checked (libarchive 3.6 does not check the CRC of stored RAR members, so the
CRCs are read from the RAR 4 headers here); a truncated or corrupt zip or RAR raises
:class:`DataError` naming it.
"""

from __future__ import annotations

import struct
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


_RAR4_SIGNATURE = b"Rar!\x1a\x07\x00"


def _open_raw(location: tuple[str, ...], stack: ExitStack):
    if len(location) == 1:
        return stack.enter_context(open(location[0], "rb"))
    zf = stack.enter_context(zipfile.ZipFile(location[0]))
    return stack.enter_context(zf.open(location[1]))


def rar4_crcs(location: tuple[str, ...]) -> dict[str, int] | None:
    """CRC-32 of each member, from the file headers of a RAR 4 archive (None for other formats).

    Walks the block headers only, seeking over the packed data.
    """
    crcs: dict[str, int] = {}
    try:
        with ExitStack() as stack:
            fh = _open_raw(location, stack)
            if fh.read(7) != _RAR4_SIGNATURE:
                return None
            while len(base := fh.read(7)) == 7:
                _, head_type, flags, head_size = struct.unpack("<HBHH", base)
                rest = fh.read(max(head_size - 7, 0))
                if len(rest) < head_size - 7 or head_size < 7:
                    raise EOFError("truncated RAR block header")
                if head_type == 0x7B:  # end of archive
                    break
                skip = 0
                if head_type == 0x74:  # file header
                    pack, _, _, crc = struct.unpack_from("<IIBI", rest)
                    name_size = struct.unpack_from("<H", rest, 19)[0]
                    name_at = 25 + (8 if flags & 0x100 else 0)
                    if flags & 0x100:
                        pack += struct.unpack_from("<I", rest, 25)[0] << 32
                    name = rest[name_at : name_at + name_size].split(b"\0")[0].decode("utf-8", "replace")
                    if flags & 0xE0 != 0xE0:  # not a directory entry
                        crcs[name.replace("\\", "/")] = crc
                    skip = pack
                elif flags & 0x8000 and len(rest) >= 4:  # block with data after its header
                    skip = struct.unpack_from("<I", rest)[0]
                fh.seek(skip, 1)
    except (struct.error, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"{'!'.join(location)}: corrupt or truncated RAR archive ({exc})") from exc
    return crcs


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
    """Names of the regular files inside an attacks RAR (from its headers when it is RAR 4)."""
    crcs = rar4_crcs(rar.location)
    if crcs is not None:
        return list(crcs)
    with _rar_reader(rar.location) as archive:
        return [entry.pathname for entry in archive if entry.isfile]


def iter_rar_members(rar: RarSource, wanted: set[str]) -> Iterator[tuple[str, bytearray]]:
    """Yield ``(member, data)`` for each wanted member of a RAR, in archive order, size-checked."""
    where = "!".join(rar.location)
    seen: set[str] = set()
    crcs = rar4_crcs(rar.location)
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
            crc = crcs.get(entry.pathname) if crcs is not None else None
            if crc is not None and zlib.crc32(data) != crc:
                raise DataError(f"{where}!{entry.pathname}: corrupt RAR member (CRC-32 mismatch)")
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
