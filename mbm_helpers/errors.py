"""Exceptions with messages that name the file, column or value at fault."""

from __future__ import annotations


class DataError(ValueError):
    """Input data that cannot be used: wrong header, NaN/inf, unknown device, bad archive, ..."""


class ChecksumError(DataError):
    """A downloaded or given file whose SHA-256 differs from the pinned one."""
