"""The sparse Kaplan-Meier (non-empty cells only, used by the rolling tables) agrees with the dense
bins x groups form on any counts, including empty bins, all-censored groups and groups that die out."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.survival import km_binned_t, km_sparse

EDGES = (np.array([0.0] + [10 ** ((k - 1) / 20) for k in range(1, 142)]), np.array([10 ** (k / 20) for k in range(142)]))


@st.composite
def count_matrices(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    groups = draw(st.integers(1, 12))
    bins = np.array(sorted(draw(st.sets(st.integers(0, 141), min_size=1, max_size=10))))
    cells = st.integers(0, 6).map(lambda v: 0 if v > 3 else v)       # mostly empty
    d = np.array(draw(st.lists(st.lists(cells, min_size=len(bins), max_size=len(bins)), min_size=groups,
                               max_size=groups)), dtype=np.float64)
    c = np.array(draw(st.lists(st.lists(cells, min_size=len(bins), max_size=len(bins)), min_size=groups,
                               max_size=groups)), dtype=np.float64)
    return bins, d, c


@settings(max_examples=300, deadline=None)
@given(count_matrices())
def test_sparse_km_equals_dense(m: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    bins, d, c = m
    dense = km_binned_t(d.T, c.T, EDGES[0][bins], EDGES[1][bins])
    g, j = np.nonzero(d + c)                     # row-major: by group, then bin
    present = np.unique(g)
    starts = np.searchsorted(g, present)
    sparse = km_sparse(starts, bins[j], d[g, j], c[g, j], EDGES)
    for key, got in sparse.items():
        np.testing.assert_array_equal(got, dense[key][present], err_msg=key)     # bit-identical: ties stay ties
    # groups without any cell are absent from the sparse form; the dense form has nothing for them
    empty = np.setdiff1d(np.arange(len(d)), present)
    assert np.all(dense["n"][empty] == 0) and np.all(np.isnan(dense["km_median_s"][empty]))
