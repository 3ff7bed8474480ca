"""Download the official N-BaIoT archive (UCI dataset 442): pinned URL and SHA-256, resumable.

Bytes go to ``<name>.part`` beside the final file; an interrupted download keeps that part and
the next call resumes it with an HTTP ``Range`` request (a server that ignores ``Range`` makes it
start over). Only a file whose SHA-256 matches is renamed to its final name, so a partial or
corrupt archive never sits under that name. A file already there and verified is not fetched again.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from tqdm.auto import tqdm

from mbm_helpers import paths
from mbm_helpers.errors import ChecksumError, DataError

URL = "https://archive.ics.uci.edu/static/public/442/detection+of+iot+botnet+attacks+n+baiot.zip"
SHA256 = "64929678b081d8e579a8d7c488cf11cc588403f282d5fb065b4156edbd55de9b"
_CHUNK = 1 << 20


def sha256_of(path: str | os.PathLike, *, progress: bool = False) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = Path(path).stat().st_size
    with (
        open(path, "rb") as fh,
        tqdm(total=size, unit="B", unit_scale=True, desc="Verifying", disable=not progress) as bar,
    ):
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _verify(path: Path, sha256: str, progress: bool) -> None:
    got = sha256_of(path, progress=progress)
    if got != sha256.lower():
        raise ChecksumError(f"{path}: SHA-256 is {got}, expected {sha256}")


def _fetch(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Append the rest of ``url`` to ``part`` (resuming from its size); raise on a short read."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part is already complete
            return
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"download of {url} failed: {exc}") from exc
    with response:
        if have and response.status != 206:  # server ignored Range: start again
            have = 0
        length = response.headers.get("Content-Length")
        expected = have + int(length) if length is not None else None
        got = have
        mode = "ab" if have else "wb"
        with (
            open(part, mode) as fh,
            tqdm(
                total=expected,
                initial=have,
                unit="B",
                unit_scale=True,
                desc=f"Downloading {part.name[: -len('.part')]}",
                disable=not progress,
            ) as bar,
        ):
            try:
                while chunk := response.read(_CHUNK):
                    fh.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
            except (http.client.IncompleteRead, OSError) as exc:
                if isinstance(exc, http.client.IncompleteRead) and exc.partial:
                    fh.write(exc.partial)
                    got += len(exc.partial)
                raise DataError(
                    f"download of {url} interrupted after {got:,} of {expected or '?'} bytes ({exc!r}); "
                    f"the partial data is kept in {part}; call again to resume"
                ) from exc
    if expected is not None and got < expected:
        raise DataError(
            f"download of {url} ended early after {got:,} of {expected:,} bytes; "
            f"the partial data is kept in {part}; call again to resume"
        )


def download_nbaiot(
    dest_dir: str | os.PathLike | None = None,
    *,
    url: str = URL,
    sha256: str = SHA256,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download the N-BaIoT archive into ``dest_dir`` (default ``paths.downloads_dir()``), verified.

    Returns the path of the verified archive. Raises :class:`ChecksumError` if the downloaded
    bytes (or a file already under the final name) do not match ``sha256``; a mismatching
    download is deleted. A network failure raises :class:`DataError` and keeps ``<name>.part``
    so that the next call resumes.
    """
    dest = Path(dest_dir) if dest_dir is not None else paths.downloads_dir()
    name = unquote(Path(urlparse(url).path).name)
    if not name:
        raise ValueError(f"cannot tell a file name from URL {url!r}")
    target = dest / name
    if target.exists():
        _verify(target, sha256, progress)  # an existing bad file is reported, never overwritten
        return target
    dest.mkdir(parents=True, exist_ok=True)
    part = dest / f"{name}.part"
    _fetch(url, part, timeout, progress)
    try:
        _verify(part, sha256, progress)
    except ChecksumError as exc:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"download of {url} does not match its pinned checksum: {exc}") from None
    os.replace(part, target)
    return target
