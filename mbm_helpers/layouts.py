"""Recognise the three N-BaIoT layouts and list the source CSV files they hold.

The same 89 CSV files (9 devices x benign + 5 BASHLITE + 5 Mirai attacks, devices 3 and 7
without Mirai) are published in three layouts:

* official zip (UCI): ``<Device>/benign_traffic.csv`` plus ``<Device>/gafgyt_attacks.rar`` and
  ``<Device>/mirai_attacks.rar`` whose members (``combo.csv``, ``scan.csv``, ...) sit at the
  RAR's root; ``demonstrate_structure.csv`` and the description ``.txt`` are skipped;
* extracted nested folder: ``<Device>/benign_traffic.csv``, ``<Device>/gafgyt_attacks/scan.csv``,
  ... (RARs left beside or instead of their folders are read too);
* flat mirror: ``1.benign.csv``, ``1.gafgyt.combo.csv``, ``1.mirai.udpplain.csv``, ... with the
  extra ``device_info.csv``, ``features.csv`` and ``data_summary.csv`` ignored.

:func:`classify` maps one relative path (inside a folder, zip or RAR) to what it holds, so
every layout is recognised by the same rules; :func:`list_sources` walks a folder or zip.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mbm_helpers import schema
from mbm_helpers.errors import DataError

#: Files that ship with the dataset or its mirrors but hold no traffic rows.
IGNORED_FILES = frozenset(
    {"demonstrate_structure.csv", "device_info.csv", "features.csv", "data_summary.csv"}
)
BENIGN_FILE = "benign_traffic.csv"


@dataclass(frozen=True)
class SourceFile:
    """One N-BaIoT CSV: which device and class it holds and where its bytes are.

    ``location`` is the outer file on disk followed by the member names inside it (a zip
    member, then possibly a RAR member); ``size`` and ``mtime_ns`` belong to the outer file.
    """

    device: str
    attack: str
    location: tuple[str, ...]
    size: int
    mtime_ns: int

    @property
    def botnet(self) -> str:
        return self.attack.split("_", 1)[0]

    @property
    def display(self) -> str:
        """A readable name for messages: ``archive.zip!Device/gafgyt_attacks.rar!scan.csv``."""
        return "!".join(self.location)


@dataclass(frozen=True)
class RarSource:
    """A ``<botnet>_attacks.rar`` (on disk or inside a zip) whose members are still unknown."""

    device: str
    botnet: str
    location: tuple[str, ...]
    size: int
    mtime_ns: int


def _device_by_name(name: str, where: str) -> str:
    if name not in schema.DEVICE_NAMES:
        raise DataError(
            f"{where}: unknown N-BaIoT device folder {name!r}; "
            f"expected one of {', '.join(schema.DEVICE_NAMES)}"
        )
    return name


def _device_by_id(text: str, where: str) -> str:
    try:
        return schema.device(int(text)).name
    except (KeyError, ValueError):
        raise DataError(f"{where}: unknown N-BaIoT device id {text!r} (expected 1-9)") from None


def _attack(botnet: str, attack: str, device: str, where: str) -> str:
    try:
        label = schema.attack_label(botnet, attack)
    except KeyError:
        raise DataError(
            f"{where}: unknown N-BaIoT attack file {attack!r} for botnet {botnet!r}; expected one of "
            f"{', '.join(schema.ATTACK_FILES.get(botnet, ()))}"
        ) from None
    if botnet == "mirai" and device in schema.DEVICES_WITHOUT_MIRAI:
        raise DataError(f"{where}: device {device} has no Mirai data in N-BaIoT")
    return label


def classify(relpath: str, where: str) -> tuple[str, str, str] | None:
    """What a relative path holds: ``("csv", device, attack)``, ``("rar", device, botnet)`` or None.

    None means the file is not traffic data (documentation, extras, hidden files). A ``.csv`` or
    ``.rar`` whose name looks like N-BaIoT but names an unknown device or attack raises
    :class:`DataError`; ``where`` names the file in that message.
    """
    parts = PurePosixPath(relpath.replace(os.sep, "/")).parts
    if not parts:
        return None
    name = parts[-1]
    lower = name.lower()
    if name.startswith(".") or any(p.startswith(".") for p in parts[:-1]):
        return None
    if lower in IGNORED_FILES or not lower.endswith((".csv", ".rar")):
        return None
    if lower.endswith(".rar"):
        stem = name[: -len(".rar")]
        if len(parts) >= 2 and stem.endswith("_attacks") and stem[: -len("_attacks")] in ("gafgyt", "mirai"):
            device = _device_by_name(parts[-2], where)
            botnet = stem[: -len("_attacks")]
            if botnet == "mirai" and device in schema.DEVICES_WITHOUT_MIRAI:
                raise DataError(f"{where}: device {device} has no Mirai data in N-BaIoT")
            return ("rar", device, botnet)
        raise DataError(
            f"{where}: unrecognised archive name {name!r}; expected gafgyt_attacks.rar or mirai_attacks.rar"
        )
    # Flat mirror layout: <id>.benign.csv, <id>.<botnet>.<attack>.csv
    dotted = name[: -len(".csv")].split(".")
    if dotted[0].isdigit():
        device = _device_by_id(dotted[0], where)
        if dotted[1:] == ["benign"]:
            return ("csv", device, "benign")
        if len(dotted) == 3:
            return ("csv", device, _attack(dotted[1], dotted[2], device, where))
        raise DataError(
            f"{where}: unrecognised flat-layout file name {name!r} (expected e.g. 1.gafgyt.combo.csv)"
        )
    # Nested layout: <Device>/benign_traffic.csv, <Device>/<botnet>_attacks/<attack>.csv
    if name == BENIGN_FILE and len(parts) >= 2:
        return ("csv", _device_by_name(parts[-2], where), "benign")
    if len(parts) >= 3 and parts[-2] in ("gafgyt_attacks", "mirai_attacks"):
        device = _device_by_name(parts[-3], where)
        return ("csv", device, _attack(parts[-2][: -len("_attacks")], name[: -len(".csv")], device, where))
    raise DataError(
        f"{where}: unrecognised N-BaIoT file {relpath!r}; expected <Device>/benign_traffic.csv, "
        "<Device>/gafgyt_attacks/<attack>.csv, <Device>/<botnet>_attacks.rar or <id>.<botnet>.<attack>.csv"
    )


def classify_rar_member(member: str, rar: RarSource) -> SourceFile | None:
    """The source file a member of an attacks RAR holds (None for non-CSV members)."""
    name = PurePosixPath(member.replace("\\", "/")).name
    where = "!".join((*rar.location, member))
    if not name.lower().endswith(".csv") or name.startswith("."):
        return None
    attack = _attack(rar.botnet, name[: -len(".csv")], rar.device, where)
    return SourceFile(rar.device, attack, (*rar.location, member), rar.size, rar.mtime_ns)


def list_sources(source: str | os.PathLike) -> list[SourceFile | RarSource]:
    """Every N-BaIoT CSV or attacks RAR in a folder (any layout) or an official-layout zip."""
    source = Path(source)
    if not source.exists():
        raise DataError(f"N-BaIoT source {source} does not exist")
    found: list[SourceFile | RarSource] = []
    if source.is_dir():
        for root, dirs, files in os.walk(source):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for fname in sorted(files):
                path = Path(root) / fname
                # Relative to the parent, so a single device folder can be loaded as well.
                kind = classify(str(path.relative_to(source.parent)), str(path))
                if kind is None:
                    continue
                st = path.stat()
                loc = (str(path.resolve()),)
                if kind[0] == "csv":
                    found.append(SourceFile(kind[1], kind[2], loc, st.st_size, st.st_mtime_ns))
                else:
                    found.append(RarSource(kind[1], kind[2], loc, st.st_size, st.st_mtime_ns))
    elif zipfile.is_zipfile(source):
        st = source.stat()
        outer = str(source.resolve())
        try:
            with zipfile.ZipFile(source) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{source}: corrupt zip archive ({exc})") from exc
        for member in names:
            kind = classify(member, f"{source}!{member}")
            if kind is None:
                continue
            cls = SourceFile if kind[0] == "csv" else RarSource
            found.append(cls(kind[1], kind[2], (outer, member), st.st_size, st.st_mtime_ns))
    else:
        raise DataError(
            f"{source} is neither a folder nor a zip archive (truncated or corrupt download?); "
            "expected the official N-BaIoT zip or a folder of its CSV files"
        )
    if not found:
        raise DataError(
            f"no N-BaIoT files found in {source}; expected <Device>/benign_traffic.csv, "
            "<Device>/gafgyt_attacks/<attack>.csv, <Device>/<botnet>_attacks.rar or 1.benign.csv-style names"
        )
    return found
