"""Parse and validate one N-BaIoT CSV into an Arrow table of 115 float32 columns.

Every N-BaIoT CSV (any layout) starts with the same header line, the 115
:data:`~mbm_helpers.schema.FEATURES` in order, then one row per packet; lines may end in LF or
CRLF. Values are parsed as float64 with :mod:`pyarrow.csv` (multithreaded), checked for
missing, NaN and infinite values (which raise, naming file, column and count, never dropped),
then cast to float32 (checked again for overflow).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from mbm_helpers import schema
from mbm_helpers.errors import DataError

#: Arrow schema of a parsed file: the 115 features, float32.
FLOAT32_SCHEMA = pa.schema([(name, pa.float32()) for name in schema.FEATURES])
_HEADER_LIMIT = 1 << 16


def _first_line(data: str | Path | bytes | bytearray) -> bytes:
    if isinstance(data, str | Path):
        with open(data, "rb") as fh:
            head = fh.read(_HEADER_LIMIT)
    else:
        head = bytes(memoryview(data)[:_HEADER_LIMIT])
    return head.split(b"\n", 1)[0]


def header_problem(columns: list[str]) -> str | None:
    """Describe how a header differs from the 115 N-BaIoT features (None when it matches)."""
    expected = list(schema.FEATURES)
    if columns == expected:
        return None
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else ""))
    if extra:
        parts.append(f"unexpected column(s) {', '.join(extra[:10])}" + (" ..." if len(extra) > 10 else ""))
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        parts.append(f"duplicated column(s) {', '.join(dupes)}")
    if not parts:
        first = next(i for i, (a, b) in enumerate(zip(columns, expected, strict=True)) if a != b)
        parts.append(
            f"columns out of order: position {first} is {columns[first]!r}, expected {expected[first]!r}"
        )
    return f"header is not the 115 N-BaIoT feature columns: {'; '.join(parts)}"


def check_header(data: str | Path | bytes | bytearray, where: str) -> None:
    """Raise :class:`DataError` unless ``data`` starts with the N-BaIoT header line."""
    line = _first_line(data)
    if not line.strip():
        raise DataError(f"{where}: empty file (no N-BaIoT header line)")
    text = line.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r")
    problem = header_problem([c.strip().strip('"') for c in text.split(",")])  # CSV may quote names
    if problem:
        raise DataError(f"{where}: {problem}")


def _arrow_error(exc: Exception, where: str) -> DataError:
    msg = str(exc)
    m = re.search(r"column #(\d+)", msg)
    if m and int(m.group(1)) < schema.N_FEATURES:
        msg = f"column {schema.FEATURES[int(m.group(1))]!r}: {msg}"
    return DataError(f"{where}: not a valid N-BaIoT CSV ({msg})")


def _check_finite(table: pa.Table, where: str, what: str) -> None:
    problems = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        nulls = col.null_count
        values = col.to_numpy()
        finite = np.isfinite(values)
        if nulls or not finite.all():
            nan = int(np.isnan(values).sum()) - nulls
            inf = int(np.isinf(values).sum())
            bits = [f"{n} {label}" for n, label in ((nulls, "missing"), (nan, "NaN"), (inf, what)) if n]
            problems.append(f"{name!r} ({', '.join(bits)})")
    if problems:
        shown = "; ".join(problems[:8]) + (
            f"; and {len(problems) - 8} more columns" if len(problems) > 8 else ""
        )
        raise DataError(f"{where}: non-finite values in column(s) {shown}")


def read_nbaiot_csv(data: str | Path | bytes | bytearray, where: str) -> pa.Table:
    """Parse one N-BaIoT CSV (a path or its bytes) into a table of 115 float32 columns.

    ``where`` names the file in error messages. Raises :class:`DataError` for a wrong header,
    an empty or header-only file, non-numeric cells, missing/NaN/inf values or float32 overflow.
    """
    check_header(data, where)
    source = pa.py_buffer(data) if isinstance(data, bytes | bytearray) else str(data)
    try:
        table = pacsv.read_csv(
            source if isinstance(source, str) else pa.BufferReader(source),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=list(schema.FEATURES)),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.float64() for name in schema.FEATURES},
                null_values=[""],  # empty cells are missing; "nan"/"inf" parse as NaN/inf
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _arrow_error(exc, where) from exc
    if table.num_rows == 0:
        raise DataError(f"{where}: no data rows after the header")
    _check_finite(table, where, "inf")
    table = table.cast(FLOAT32_SCHEMA)
    _check_finite(table, where, "beyond the float32 range")
    return table.combine_chunks()
