"""Time against decoder-layer count: a linear least-squares fit over measured layer prefixes,
extrapolated to the full depth. A transformer's cost per token is a fixed part (embeddings, output layer,
sampling) plus the same cost for every decoder block, so time(k layers) = a + b*k."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from evalkit.records import LayerFit


def fit_layers(layers: Sequence[int], seconds: Sequence[float], full_layers: int) -> LayerFit:
    """Fit seconds = intercept + slope * layers and predict ``full_layers``. With one point per
    distinct layer count the line is exact where it can be (two counts: no error estimate); with three or
    more, ``error_s`` is the standard error of the prediction at full depth (t-free, residual based)."""
    x = np.asarray(layers, dtype=float)
    y = np.asarray(seconds, dtype=float)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError("fit_layers needs as many times as layer counts, at least one")
    distinct = sorted(set(int(v) for v in x))
    if len(distinct) == 1:
        value = float(y.mean())
        if distinct[0] != full_layers:
            raise ValueError(f"one layer count ({distinct[0]}) cannot be extrapolated to {full_layers}")
        return LayerFit(layers=[int(v) for v in x], seconds=[float(v) for v in y], full_layers=full_layers,
                        slope_s=None, intercept_s=None, predicted_s=value, error_s=None, r2=None)
    reg = stats.linregress(x, y)
    slope, intercept = float(reg.slope), float(reg.intercept)
    predicted = intercept + slope * full_layers
    error = None
    n = len(x)
    if n > 2:
        resid = y - (intercept + slope * x)
        s = math.sqrt(float(np.sum(resid**2)) / (n - 2))
        sxx = float(np.sum((x - x.mean()) ** 2))
        error = s * math.sqrt(1.0 / n + (full_layers - x.mean()) ** 2 / sxx)
    r2 = float(reg.rvalue**2) if np.ptp(y) > 0 else 1.0
    return LayerFit(layers=[int(v) for v in x], seconds=[float(v) for v in y], full_layers=full_layers,
                    slope_s=slope, intercept_s=intercept, predicted_s=predicted, error_s=error, r2=r2)
