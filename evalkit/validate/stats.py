"""Agreement statistics with a bootstrap that resamples groups (prompts), not stories.

Stories of one prompt share a topic and raters, so they are not independent: each bootstrap draw
takes G groups with replacement and keeps all their stories. Pooled Kendall tau-b is exact under
such draws without re-sorting: it is a ratio of quadratic forms in the groups' draw counts
(concordant minus discordant pairs, and untied pairs in each variable), summed per pair of groups
once. Point estimates equal scipy.stats.kendalltau / spearmanr (tests check it).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from evalkit.stats import SEED, resample_indices
from evalkit.validate.record import Agreement, Estimate

BOOTSTRAP = 1000


@lru_cache(maxsize=8)
def group_draws(n_groups: int, boot: int = BOOTSTRAP, seed: int = SEED):
    """boot x n_groups counts: how often each group is drawn in each bootstrap sample (read-only)."""
    picks = resample_indices(n_groups, boot, seed)
    counts = np.zeros((boot, n_groups))
    np.add.at(counts, (np.repeat(np.arange(boot), n_groups), picks.ravel()), 1)
    counts.flags.writeable = False
    return counts


def _est(value: float, boots: Any) -> Estimate:
    v = None if value is None or not np.isfinite(value) else float(value)
    b = np.asarray(boots, dtype=float)
    b = b[np.isfinite(b)]
    if v is None or b.size < 10:
        return Estimate(value=v)
    lo, hi = np.percentile(b, [2.5, 97.5])
    return Estimate(value=v, low=float(lo), high=float(hi))


def _qform(c, A):
    return ((c @ A) * c).sum(axis=1)


class _Pooled:
    """Pooled statistics over stories, evaluated at any group-count vector."""

    def __init__(self, gidx, n_groups: int):
        # stories arrive sorted by group and every group has one: block sums are two reduceats
        assert np.all(np.diff(gidx) >= 0) and len(set(gidx.tolist())) == n_groups
        self.starts = np.flatnonzero(np.r_[True, np.diff(gidx) > 0])
        self.gidx = gidx

    def _rowsum(self, M):
        return np.add.reduceat(M, self.starts, axis=0)

    def _sum(self, M):
        return np.add.reduceat(self._rowsum(M), self.starts, axis=1)

    def tau(self, x, y, counts, within: bool = False):
        """Kendall tau-b at counts = ones (1 x G) and at each bootstrap row; with ``within``, also the
        tau-b inside each group (the diagonal blocks)."""
        sx, sy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])
        A, Tx, Ty = self._sum(sx * sy), self._sum(np.abs(sx)), self._sum(np.abs(sy))
        num = _qform(counts, A)
        den = np.sqrt(_qform(counts, Tx) * _qform(counts, Ty))
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
            if not within:
                return t
            d = np.sqrt(np.diag(Tx) * np.diag(Ty))
            sizes = np.diff(np.r_[self.starts, len(self.gidx)])
            return t, np.where((d > 0) & (sizes >= 3), np.diag(A) / np.where(d > 0, d, 1), np.nan)

    def spearman(self, x, y, counts):
        """Spearman rho (Pearson of mid-ranks) of the multiset each count row describes."""
        w = counts[:, self.gidx]  # boot x n: copies of each story

        def ranks(v):
            L = (v[:, None] < v[None, :]).astype(float) + 0.5 * (v[:, None] == v[None, :])
            R = self._rowsum(L)  # groups x stories: mid-rank contributions of each group
            return counts @ R + 0.5, R[self.gidx, np.arange(len(v))] + 0.5  # pooled; within the story's group

        (rx, gx), (ry, gy) = ranks(x), ranks(y)
        self.within_ranks = (gx, gy)
        W = w.sum(axis=1, keepdims=True)
        mx, my = (w * rx).sum(1, keepdims=True) / W, (w * ry).sum(1, keepdims=True) / W
        cov = (w * (rx - mx) * (ry - my)).sum(1)
        vx, vy = (w * (rx - mx) ** 2).sum(1), (w * (ry - my) ** 2).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where((vx > 0) & (vy > 0), cov / np.sqrt(vx * vy), np.nan)


def _rows_tau(X, Y):
    """Kendall tau-b of each row pair (rows: bootstrap draws, columns: systems); NaN columns ignored."""
    dx = np.nan_to_num(np.sign(X[:, :, None] - X[:, None, :]))
    dy = np.nan_to_num(np.sign(Y[:, :, None] - Y[:, None, :]))
    num = (dx * dy).sum((1, 2))
    den = np.sqrt(np.abs(dx).sum((1, 2)) * np.abs(dy).sum((1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _rows_spearman(X, Y):
    from scipy.stats import rankdata

    rx, ry = rankdata(X, axis=1), rankdata(Y, axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(1) / np.where(den > 0, den, 1), np.nan)


def _within_pearson(a, b, gidx, n_groups):
    """Pearson r of a and b inside each group (Spearman when a and b are within-group ranks)."""
    n = np.bincount(gidx, minlength=n_groups).astype(float)
    ma, mb = np.bincount(gidx, a, n_groups) / n, np.bincount(gidx, b, n_groups) / n
    da, db = a - ma[gidx], b - mb[gidx]
    cov = np.bincount(gidx, da * db, n_groups)
    va, vb = np.bincount(gidx, da * da, n_groups), np.bincount(gidx, db * db, n_groups)
    ok = (n >= 3) & (va > 1e-12) & (vb > 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, cov / np.sqrt(np.where(ok, va * vb, 1)), np.nan)


def agreement(metric, rating, system, group, length=None, boot: int = BOOTSTRAP, seed: int = SEED) -> Agreement:
    """Every agreement statistic of one metric with one rating over the stories given.

    ``system`` and ``group`` are labels per story; stories with a missing metric or rating are left out."""
    metric, rating = np.asarray(metric, dtype=float), np.asarray(rating, dtype=float)
    ok = np.isfinite(metric) & np.isfinite(rating)
    if length is not None:
        length = np.asarray(length, dtype=float)
    groups = sorted(set(np.asarray(group)[ok].tolist()))
    systems = sorted(set(np.asarray(system)[ok].tolist()))
    gpos, spos = {g: i for i, g in enumerate(groups)}, {s: i for i, s in enumerate(systems)}
    x, y = metric[ok], rating[ok]
    gidx = np.array([gpos[g] for g in np.asarray(group)[ok]], dtype=int)
    sidx = np.array([spos[s] for s in np.asarray(system)[ok]], dtype=int)
    order = np.argsort(gidx, kind="stable")  # grouped stories: block sums by reduceat
    x, y, gidx, sidx = x[order], y[order], gidx[order], sidx[order]
    if length is not None:
        length = length[ok][order]
    G, S = len(groups), len(systems)
    empty = Estimate(value=None)
    if len(x) < 3 or G == 0:
        return Agreement(n_stories=int(len(x)), n_groups=G, n_systems=S, pooled_tau=empty, group_tau=empty,
                         system_tau=empty, pooled_spearman=empty, group_spearman=empty, system_spearman=empty)
    counts = np.vstack([np.ones((1, G)), group_draws(G, boot, seed)])
    pooled = _Pooled(gidx, G)
    tau, gt = pooled.tau(x, y, counts, within=True)
    rho = pooled.spearman(x, y, counts)
    # per group, then averaged (each draw: the mean over the groups drawn)
    gr = _within_pearson(*pooled.within_ranks, gidx, G)

    def wmean(v):
        valid = np.isfinite(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (counts @ np.nan_to_num(v)) / (counts @ valid.astype(float))

    # system means under each draw
    Msum, Rsum, N = (np.zeros((G, S)) for _ in range(3))
    np.add.at(Msum, (gidx, sidx), x)
    np.add.at(Rsum, (gidx, sidx), y)
    np.add.at(N, (gidx, sidx), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        XM, YM = (counts @ Msum) / (counts @ N), (counts @ Rsum) / (counts @ N)
    st, sr = _rows_tau(XM, YM), _rows_spearman(np.nan_to_num(XM), np.nan_to_num(YM))
    partial = None
    if length is not None:
        z = length
        if np.all(np.isfinite(z)) and np.ptp(z) > 0:
            txz, tyz = pooled.tau(x, z, counts), pooled.tau(y, z, counts)
            with np.errstate(invalid="ignore", divide="ignore"):
                p = (tau - txz * tyz) / np.sqrt((1 - txz ** 2) * (1 - tyz ** 2))
            partial = _est(p[0], p[1:])
    gm, gs = wmean(gt), wmean(gr)
    return Agreement(
        n_stories=int(len(x)), n_groups=G, n_systems=S,
        pooled_tau=_est(tau[0], tau[1:]), group_tau=_est(gm[0], gm[1:]), system_tau=_est(st[0], st[1:]),
        pooled_spearman=_est(rho[0], rho[1:]), group_spearman=_est(gs[0], gs[1:]),
        system_spearman=_est(sr[0], sr[1:]), pooled_tau_length_partialled=partial,
    )


def system_rank(values, system, name: str, higher_is_better: bool = True) -> int | None:
    """Rank (1 = best) of system ``name`` by its mean value."""
    values = np.asarray(values, dtype=float)
    system = np.asarray(system)
    means = {s: np.nanmean(values[system == s]) for s in set(system.tolist()) if np.isfinite(values[system == s]).any()}
    if name not in means:
        return None
    sign = 1 if higher_is_better else -1
    return 1 + int(sum(bool(sign * v > sign * means[name]) for s, v in means.items() if s != name))
