"""Compare a rebuilt table with a committed one at the precision its numbers mean, not byte for byte.

The last bits of floating-point results depend on the CPU's BLAS / SIMD code paths (Intel AMX, AMD Zen 4 with
AVX512, AMD without AVX512-BF16: the kinds this project's machines have), so a committed table rebuilt on another
machine may differ in the 15th digit of a bootstrap bound. :func:`assert_tables_match` therefore requires

* the same columns, in the same order, and the same number of rows;
* every non-numeric cell identical (labels, model names, decisions, counts stored as text);
* every integer column identical (counts: queries, seeds, settings);
* every other numeric cell within ``atol`` absolute (default :data:`ATOL`), NaN exactly where the other has NaN
  and an infinity exactly where the other has the same one (a Satterthwaite ``df`` of a zero-variance difference).

``ATOL = 1e-6`` is far below what any table reports (three decimals in the Markdown and on the page, where a
decision rests on a bound against δ = 0.01) and far above the CPU-dependent noise (≈ 1e-15 relative). A failure
names the file, the row (with its key columns) and the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ATOL", "assert_frames_match", "assert_tables_match", "read_table"]

#: absolute tolerance of numeric cells: CI bounds, p-values, means, differences
ATOL = 1e-6


def read_table(path: Path) -> pd.DataFrame:
    """A committed CSV (``.csv`` or ``.csv.gz``) with pandas' own type inference."""
    return pd.read_csv(path, keep_default_na=True)


def _describe(frame: pd.DataFrame, row: int, key: Sequence[str]) -> str:
    present = [k for k in key if k in frame.columns]
    values = ", ".join(f"{k}={frame.iloc[row][k]!r}" for k in present)
    return f"row {row}" + (f" ({values})" if values else "")


def assert_frames_match(new: pd.DataFrame, old: pd.DataFrame, *, name: str, atol: float = ATOL,
                        key: Sequence[str] = ()) -> None:
    """Assert ``new`` equals ``old`` under the rules of the module docstring; ``name`` and ``key`` (columns that
    identify a row) make the failure message."""
    assert list(new.columns) == list(old.columns), f"{name}: columns differ: {list(new.columns)} vs {list(old.columns)}"
    assert len(new) == len(old), f"{name}: {len(new)} rows rebuilt, {len(old)} committed"
    for column in old.columns:
        a, b = new[column], old[column]
        numeric = pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
        if not numeric:
            same = (a.astype(str) == b.astype(str)) | (a.isna() & b.isna())
            if not same.all():
                row = int(np.flatnonzero(~same.to_numpy())[0])
                raise AssertionError(f"{name}: {_describe(old, row, key)}, column {column!r}: "
                                     f"{a.iloc[row]!r} rebuilt, {b.iloc[row]!r} committed")
            continue
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        nan_x, nan_y = np.isnan(x), np.isnan(y)
        tol = 0.0 if pd.api.types.is_integer_dtype(a) and pd.api.types.is_integer_dtype(b) else atol
        with np.errstate(invalid="ignore"):  # inf − inf: equal infinities are compared exactly below
            bad = (nan_x != nan_y) | (~nan_x & ~nan_y & ~(np.abs(x - y) <= tol) & (x != y))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise AssertionError(f"{name}: {_describe(old, row, key)}, column {column!r}: {x[row]!r} rebuilt, "
                                 f"{y[row]!r} committed (|difference| {abs(x[row] - y[row]):.3g} > {tol:g})")


def assert_tables_match(new: Path, old: Path, *, atol: float = ATOL, key: Sequence[str] = ()) -> None:
    """:func:`assert_frames_match` for two CSV files (the message names ``old``'s file name)."""
    assert_frames_match(read_table(new), read_table(old), name=old.name, atol=atol, key=key)
