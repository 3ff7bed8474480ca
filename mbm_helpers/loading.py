"""Load N-BaIoT from any of its three layouts into one tidy table.

``load_nbaiot(source)`` accepts the official zip as downloaded (attack CSVs inside
``<Device>/gafgyt_attacks.rar`` / ``mirai_attacks.rar``, read through libarchive without
extracting), the extracted nested folder (``<Device>/gafgyt_attacks/scan.csv``) or the flat
mirror (``1.gafgyt.scan.csv``); see :mod:`mbm_helpers.layouts`. All three give the same table:
the 115 float32 features in file order, then categorical ``device``, ``device_type``,
``botnet``, ``attack`` and the int32 ``row`` (position within its source file), ordered by
device, file (:func:`schema.files_of` order) and row. Rows are kept as published: the exact
duplicate rows N-BaIoT contains are not removed here (a modelling choice left to the caller).

The first load converts each source CSV to a Parquet cache (:mod:`mbm_helpers.cache`); later
loads read it straight into one preallocated float32 array that backs the DataFrame without a
copy. With ``cache=False`` nothing is written, but every selected file is parsed each time and
the parsed files are held until the table is assembled (up to twice the table's size).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from mbm_helpers import paths, schema
from mbm_helpers.archive import is_rar_member, iter_rar_members, rar_members, read_zip_member
from mbm_helpers.cache import (
    cache_path,
    cached_rows,
    fill_rows,
    read_into,
    read_listing,
    write_listing,
    write_table,
)
from mbm_helpers.csv_reader import read_nbaiot_csv
from mbm_helpers.errors import DataError
from mbm_helpers.layouts import RarSource, SourceFile, classify_rar_member, list_sources

SAMPLING = ("head", "random")
_THREADS = min(2, os.cpu_count() or 1)
_CLASS_INDEX = {c: i for i, c in enumerate(schema.CLASSES)}
_DEVICE_INDEX = {d: i for i, d in enumerate(schema.DEVICE_NAMES)}


def _resolve_devices(devices: Iterable[str | int] | str | int | None) -> set[str]:
    if devices is None:
        return set(schema.DEVICE_NAMES)
    if isinstance(devices, str | int):
        devices = [devices]
    names = set()
    for d in devices:
        try:
            names.add(schema.device(d).name)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    if not names:
        raise ValueError("devices is empty; pass None for all devices")
    return names


def _resolve_classes(classes: Iterable[str] | str | None) -> set[str]:
    if classes is None:
        return set(schema.CLASSES)
    if isinstance(classes, str):
        classes = [classes]
    chosen = set()
    for c in classes:
        if c in schema.CLASSES:
            chosen.add(c)
        elif c in schema.BOTNETS:
            chosen.update(x for x in schema.CLASSES if x.split("_", 1)[0] == c)
        else:
            raise ValueError(
                f"unknown N-BaIoT class {c!r}; expected a botnet ({', '.join(schema.BOTNETS)}) "
                f"or one of {', '.join(schema.CLASSES)}"
            )
    if not chosen:
        raise ValueError("classes is empty; pass None for all classes")
    return chosen


def _cache_root(cache: bool | str | os.PathLike) -> Path | None:
    if cache is False:
        return None
    if cache is True:
        return paths.cache_dir()
    if isinstance(cache, str | os.PathLike):
        return Path(cache)
    raise ValueError(f"cache must be True, False or a folder path, got {cache!r}")


def _members(rar: RarSource, root: Path | None) -> list[str]:
    names = read_listing(root, rar) if root is not None else None
    if names is None:
        names = rar_members(rar)
        if root is not None:
            write_listing(root, rar, names)
    return names


def _select_files(
    source: str | os.PathLike, devices: set[str], classes: set[str], root: Path | None
) -> list[SourceFile]:
    """The selected source CSVs in table order; a CSV found twice (plain and in a RAR) is read once."""
    chosen: dict[tuple[str, str], SourceFile] = {}
    for entry in list_sources(source):
        if entry.device not in devices:
            continue
        if isinstance(entry, RarSource):
            if not any(c.startswith(entry.botnet + "_") for c in classes):
                continue
            found = [classify_rar_member(m, entry) for m in _members(entry, root)]
        else:
            found = [entry]
        for src in found:
            if src is None or src.attack not in classes:
                continue
            key = (src.device, src.attack)
            if key in chosen:
                old = chosen[key]
                if is_rar_member(old) != is_rar_member(src):  # an extracted copy beside its RAR
                    if is_rar_member(old):
                        chosen[key] = src
                    continue
                raise DataError(f"{src.device} {src.attack} found twice: {old.display} and {src.display}")
            chosen[key] = src
    if not chosen:
        raise DataError(
            f"no N-BaIoT files in {source} match devices {sorted(devices)} and classes {sorted(classes)}"
        )
    return sorted(chosen.values(), key=lambda s: (_DEVICE_INDEX[s.device], _CLASS_INDEX[s.attack]))


def _parse_all(files: list[SourceFile], progress: bool, desc: str) -> Iterator[tuple[SourceFile, pa.Table]]:
    """Yield ``(source, float32 table)`` for each file, streaming each RAR once."""
    plain = [f for f in files if not is_rar_member(f)]
    by_rar: dict[tuple[str, ...], list[SourceFile]] = {}
    for f in files:
        if is_rar_member(f):
            by_rar.setdefault(f.location[:-1], []).append(f)
    with tqdm(total=len(files), desc=desc, unit="file", disable=not progress) as bar:
        for src in plain:
            data = src.location[0] if len(src.location) == 1 else read_zip_member(*src.location)
            yield src, read_nbaiot_csv(data, src.display)
            bar.update()
        for loc, members in by_rar.items():
            first = members[0]
            rar = RarSource(first.device, first.botnet, loc, first.size, first.mtime_ns)
            by_name = {m.location[-1]: m for m in members}
            for name, data in iter_rar_members(rar, set(by_name)):
                src = by_name[name]
                table = read_nbaiot_csv(data, src.display)
                del data
                yield src, table
                bar.update()


def _rows_to_keep(src: SourceFile, n: int, cap: int | None, sampling: str, seed: int) -> np.ndarray | int:
    """Rows of a file to keep: an int ``k`` for its first k rows, or sorted positions."""
    if cap is None or cap >= n:
        return n
    if sampling == "head":
        return cap
    rng = np.random.default_rng([seed, schema.device(src.device).id, _CLASS_INDEX[src.attack]])
    return np.sort(rng.choice(n, size=cap, replace=False))


def _categorical(codes: np.ndarray, categories: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(categories)), validate=False)


def load_nbaiot(
    source: str | os.PathLike,
    *,
    devices: Iterable[str | int] | str | int | None = None,
    classes: Iterable[str] | str | None = None,
    max_rows_per_file: int | None = None,
    sampling: str = "head",
    seed: int = 0,
    cache: bool | str | os.PathLike = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Load N-BaIoT (official zip, extracted folder or flat mirror) as the tidy table.

    ``devices``: names or ids (default all); ``classes``: values of ``schema.CLASSES`` and/or
    botnet names (default all). ``max_rows_per_file`` keeps at most that many rows of each file:
    the first ones (``sampling="head"``) or a random subset seeded by ``seed`` and the file
    (``sampling="random"``), always in chronological order with ``row`` = original position.
    ``cache``: True (``paths.cache_dir()``), a folder, or False (parse every time).
    """
    if sampling not in SAMPLING:
        raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
    if max_rows_per_file is not None and (
        isinstance(max_rows_per_file, bool)
        or not isinstance(max_rows_per_file, int | np.integer)
        or max_rows_per_file < 1
    ):
        raise ValueError(f"max_rows_per_file must be a positive integer or None, got {max_rows_per_file!r}")
    root = _cache_root(cache)
    files = _select_files(source, _resolve_devices(devices), _resolve_classes(classes), root)

    tables: dict[SourceFile, pa.Table] = {}
    counts: dict[SourceFile, int] = {}
    if root is not None:
        for src in files:
            if (n := cached_rows(cache_path(root, src))) is not None:
                counts[src] = n
        missing = [f for f in files if f not in counts]
        for src, table in _parse_all(missing, progress, "Converting N-BaIoT CSV to Parquet"):
            write_table(table, cache_path(root, src))
            counts[src] = table.num_rows
    else:
        for src, table in _parse_all(files, progress, "Parsing N-BaIoT CSV"):
            keep = _rows_to_keep(src, table.num_rows, max_rows_per_file, sampling, seed)
            counts[src] = table.num_rows
            tables[src] = table.slice(0, keep) if isinstance(keep, int) else table.take(keep)

    keeps = {f: _rows_to_keep(f, counts[f], max_rows_per_file, sampling, seed) for f in files}
    sizes = [k if isinstance(k, int) else len(k) for k in (keeps[f] for f in files)]
    total = int(sum(sizes))
    X = np.empty((total, schema.N_FEATURES), dtype=np.float32)
    row = np.empty(total, dtype=np.int32)
    codes = {name: np.empty(total, dtype=np.int8) for name in ("device", "device_type", "botnet", "attack")}
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def fill(i: int) -> None:
        src, keep, start, stop = files[i], keeps[files[i]], bounds[i], bounds[i + 1]
        if root is not None:
            read_into(cache_path(root, src), X[start:stop], None if isinstance(keep, int) else keep)
        else:
            fill_rows(tables.pop(src), X[start:stop])
        row[start:stop] = np.arange(stop - start, dtype=np.int32) if isinstance(keep, int) else keep
        codes["device"][start:stop] = _DEVICE_INDEX[src.device]
        codes["device_type"][start:stop] = schema.DEVICE_TYPES.index(schema.device(src.device).type)
        codes["botnet"][start:stop] = schema.BOTNETS.index(src.botnet)
        codes["attack"][start:stop] = _CLASS_INDEX[src.attack]

    # Files fill disjoint slices, so two threads (Arrow decoding and numpy copies release the GIL)
    # keep both cores busy.
    with (
        ThreadPoolExecutor(max_workers=_THREADS) as pool,
        tqdm(total=len(files), desc="Loading N-BaIoT", unit="file", disable=not progress) as bar,
    ):
        futures = [pool.submit(fill, i) for i in range(len(files))]
        try:
            for future in futures:
                future.result()
                bar.update()
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    features = pd.DataFrame(X, columns=list(schema.FEATURES), copy=False)
    labels = pd.DataFrame(
        {
            "device": _categorical(codes["device"], schema.DEVICE_NAMES),
            "device_type": _categorical(codes["device_type"], schema.DEVICE_TYPES),
            "botnet": _categorical(codes["botnet"], schema.BOTNETS),
            "attack": _categorical(codes["attack"], schema.CLASSES),
            "row": row,
        }
    )
    return pd.concat([features, labels], axis=1)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Rows per device (with its type) and class, with a ``total`` column and a ``total`` row.

    Devices with no rows are left out; every class of ``schema.CLASSES`` is a column (0 when
    absent). ``device_type`` of the total row is ``"all"``.
    """
    missing = [c for c in ("device", "attack") if c not in df.columns]
    if missing:
        raise DataError(f"summarize needs the tidy N-BaIoT table; missing column(s) {', '.join(missing)}")
    device = pd.Categorical(df["device"], categories=list(schema.DEVICE_NAMES))
    attack = pd.Categorical(df["attack"], categories=list(schema.CLASSES))
    if (device.codes < 0).any() or (attack.codes < 0).any():
        raise DataError("summarize: unknown device or attack values (or missing labels) in the table")
    n_dev, n_cls = len(schema.DEVICE_NAMES), len(schema.CLASSES)
    grid = np.bincount(device.codes.astype(np.int64) * n_cls + attack.codes, minlength=n_dev * n_cls)
    table = pd.DataFrame(
        grid.reshape(n_dev, n_cls), index=list(schema.DEVICE_NAMES), columns=list(schema.CLASSES)
    )
    table = table[table.sum(axis=1) > 0]
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    table.insert(0, "device_type", [schema.device(d).type for d in table.index[:-1]] + ["all"])
    table.index.name = "device"
    return table
