"""The rebuild tests' table comparison fails on what matters and passes on CPU-dependent last bits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from table_compare import ATOL, assert_frames_match

BASE = pd.DataFrame({"model": ["a", "b"], "decision": ["equivalent", "inconclusive"], "n_queries": [711, 711],
                     "ci_low": [-0.0250123456789, 0.0008], "p_value": [0.06, float("nan")]})


def test_last_bits_pass() -> None:
    noisy = BASE.copy()
    noisy["ci_low"] = noisy["ci_low"] * (1 + 4e-16)  # what another CPU's SIMD summation gives
    assert_frames_match(noisy, BASE, name="decisions.csv")


@pytest.mark.parametrize(("column", "value", "message"), [
    ("decision", "better", "'decision': 'better' rebuilt, 'inconclusive' committed"),
    ("model", "c", "'model'"),
    ("n_queries", 710, "'n_queries'"),  # counts are exact
    ("ci_low", 0.0008 + 10 * ATOL, "'ci_low'"),
    ("p_value", 0.5, "'p_value'"),  # NaN committed, a number rebuilt
])
def test_what_matters_fails_naming_file_row_and_column(column: str, value: object, message: str) -> None:
    changed = BASE.copy()
    changed[column] = changed[column].astype(object) if isinstance(value, str) else changed[column]
    changed.loc[1, column] = value
    with pytest.raises(AssertionError, match="decisions.csv: row 1 \\(model='b'\\)"):
        assert_frames_match(changed, BASE, name="decisions.csv", key=["model"])
    with pytest.raises(AssertionError, match=message):
        assert_frames_match(changed, BASE, name="decisions.csv", key=["model"])


def test_columns_and_rows_must_be_the_same() -> None:
    with pytest.raises(AssertionError, match="columns differ"):
        assert_frames_match(BASE.drop(columns="p_value"), BASE, name="t.csv")
    with pytest.raises(AssertionError, match="1 rows rebuilt, 2 committed"):
        assert_frames_match(BASE.iloc[:1], BASE, name="t.csv")


def test_equal_infinities_match_and_different_ones_do_not() -> None:
    # a Satterthwaite df of a zero-variance difference is inf on both sides
    new, old = pd.DataFrame({"df": [np.inf, 3.0]}), pd.DataFrame({"df": [np.inf, 3.0]})
    assert_frames_match(new, old, name="t.csv")
    with pytest.raises(AssertionError, match="df"):
        assert_frames_match(pd.DataFrame({"df": [-np.inf, 3.0]}), old, name="t.csv")
