"""The resampling design of the cluster bootstrap: per-(seed, group, unit) sums and counts of paired differences.

With these, any multiplicities of the training seeds and of the units (one bootstrap replicate) give every group
mean by one matrix product per seed, so :func:`hybrid_bench.leaderboard.stats.macro_paired_bootstrap` evaluates
thousands of replicates at once. A unit's groups decide its stratum: groups that share a unit (the language pairs of
one parallel question) are one stratum, groups that share none (MIRACL languages) are strata of their own
(connected components of the group–unit incidence, :func:`scipy.sparse.csgraph.connected_components`).

The matrix products run on **one BLAS thread** (:mod:`threadpoolctl`): a multi-threaded BLAS splits the sum over
units by thread count, so the replicates — and a percentile interval that falls between two nearly equal ones —
would differ in their last bits between ``OMP_NUM_THREADS=1`` and ``2``, and a committed leaderboard would not
rebuild byte for byte on another setting. These products are small (batch × units × groups); one thread costs little.

Example:
    >>> import numpy as np
    >>> design = UnitDesign(np.array([1.0, 3.0, 5.0]), groups=["a", "a", "b"], units=["q1", "q2", "q1"])
    >>> design.group_means(np.array([2.0, 0.0])).tolist()  # q1 drawn twice, q2 never
    [1.0, 5.0]
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from threadpoolctl import ThreadpoolController

__all__ = ["UnitDesign", "multiplicities"]


@functools.cache
def _threadpools() -> ThreadpoolController:
    # found once (inspecting the loaded libraries takes ~0.1 ms; limiting a known controller ~2 µs)
    return ThreadpoolController()


class UnitDesign:
    """Per-(seed, group, unit) sums and counts, so that any weighting of seeds and units gives all group means by
    one matmul per seed."""

    def __init__(self, values: np.ndarray, groups: Sequence[object], units: Sequence[object],
                 seeds: Sequence[object] | None = None) -> None:
        group_codes, self.group_names = pd.factorize(pd.Series(list(groups), dtype=object), sort=True)
        unit_codes, self.unit_names = pd.factorize(pd.Series(list(units), dtype=object), sort=False)
        seed_codes, self.seed_names = pd.factorize(
            pd.Series(list(seeds) if seeds is not None else [0] * len(values), dtype=object), sort=True)
        n_s, n_g, n_u = len(self.seed_names), len(self.group_names), len(self.unit_names)
        self.sums = np.zeros((n_s, n_g, n_u))
        self.counts = np.zeros((n_s, n_g, n_u))
        np.add.at(self.sums, (seed_codes, group_codes, unit_codes), values)
        np.add.at(self.counts, (seed_codes, group_codes, unit_codes), 1.0)
        self.n_rows = np.bincount(group_codes, minlength=n_g)
        self.strata = self._strata()

    def _strata(self) -> list[np.ndarray]:
        """Unit indices per stratum: groups that share a unit are in one stratum (connected components)."""
        counts = self.counts.sum(axis=0)
        present = sparse.csr_matrix(counts > 0)
        _, group_label = csgraph.connected_components(present @ present.T, directed=False)
        unit_label = group_label[np.argmax(counts > 0, axis=0)]
        strata = [np.flatnonzero(unit_label == label) for label in np.unique(unit_label)]
        # scipy needs two or more observations per sample; pool single-unit strata into one
        singles = [s for s in strata if s.size < 2]
        strata = [s for s in strata if s.size >= 2]
        if singles:
            strata.append(np.concatenate(singles))
        return strata

    @property
    def n_units(self) -> int:
        return self.sums.shape[2]

    @property
    def n_seeds(self) -> int:
        return self.sums.shape[0]

    def group_means(self, weights: np.ndarray, seed_weights: np.ndarray | None = None) -> np.ndarray:
        """``weights``: (..., n_units) unit multiplicities, ``seed_weights``: (..., n_seeds) seed multiplicities
        (default: every seed once) → (..., n_groups) weighted group means."""
        if seed_weights is None:
            seed_weights = np.ones((*weights.shape[:-1], self.n_seeds))
        with _threadpools().limit(limits=1, user_api="blas"):  # same bits whatever the thread settings
            num = sum(seed_weights[..., s, None] * (weights @ self.sums[s].T) for s in range(self.n_seeds))
            den = sum(seed_weights[..., s, None] * (weights @ self.counts[s].T) for s in range(self.n_seeds))
        with np.errstate(invalid="ignore", divide="ignore"):
            return num / den

    def per_seed_macro(self) -> np.ndarray:
        """The macro mean of each seed on its own (all units once)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmean(self.sums.sum(axis=2) / self.counts.sum(axis=2), axis=1)

    def unit_contributions(self) -> np.ndarray:
        """Each unit's additive share of the macro mean when group sizes are fixed (used by the sign flip)."""
        totals = self.counts.sum(axis=(0, 2))
        return (self.sums.sum(axis=0) / totals[:, None]).sum(axis=0) / len(self.group_names)


def multiplicities(idx: np.ndarray, n: int) -> np.ndarray:
    """(batch, k) drawn indices in ``range(n)`` → (batch, n) counts of each index."""
    offsets = (np.arange(idx.shape[0]) * n)[:, None]
    return np.bincount((idx + offsets).ravel(), minlength=idx.shape[0] * n).reshape(idx.shape[0], n).astype(float)
