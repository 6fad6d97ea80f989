"""The per-study integrals of a whole mu column at once (``stats.bayes_grid``: the 2 M panel
nodes of one tau node), without a search for each integrand's mode.

With theta = mu + tau z, each study's integral is a Gaussian convolution of its likelihood,
    L_i(mu) = int B_i(theta) exp(-(theta - mu)^2 / (2 tau^2)) dtheta / tau,
    B_i(theta) = exp(x_i theta - n_i log(1 + e^theta)),
and on a uniform grid theta_g (spacing h) the trapezoidal rule gives, for every node mu_p of
the column and every study at once, L(mu_p) = (h / tau) sum_g E[p, g] B_i(theta_g) with
E[p, g] = exp(-(theta_g - mu_p)^2 / (2 tau^2)): one matrix of Gaussian weights shared by all
studies, one likelihood vector per distinct study, one matrix product. The per-integral rule
(``bayes_study``: a Newton search for each integrand's mode, 32 nodes each) costs about 30
array passes per node and integral; this one a few passes per grid point and column node.

Accuracy. The integrand is positive, log-concave in theta (B_i log-concave, the Gaussian too),
with curvature between 1 / tau^2 and 1 / tau^2 + n_i / 4, and analytic in the strip
|Im theta| < pi (the poles of expit). For such integrands the trapezoidal rule's relative error
falls like exp(-2 pi^2 s^2 / h^2) (s the integrand's narrowest width, 1 / sqrt(1 / tau^2 +
n_max / 4)) and like exp(-2 pi^2 / h) (the strip): h at most SPACING s (e^-55) and
MAX_SPACING (e^-28). The grid spans each node mu and the integrands' modes for mu at the
column's ends (a mode moves monotonically with mu), widened by REACH tau each side, beyond
which every integrand has fallen by exp(-REACH^2 / 2) from its mode.

Columns with tau n_max <= HERMITE_SLOPE (tau near 0, where the grid would need spacing ~ tau)
take Gauss-Hermite in z at fixed nodes instead: there log B_i(mu + tau z) is nearly linear.
Columns whose grid would cost more than their study integrals (``POINT_BUDGET``: large studies,
whose likelihood is narrow) are left to ``bayes_study``, as are columns where a sum underflows.

Against scipy's adaptive quad both rules are within 1e-9 in log L (3e-10 found) at the panel
nodes of tests/test_stats_bayes.py's convergence datasets, where the per-integral rule is off
by up to 3e-4 (single-event studies with mu far below). Every decision is per column of one
dataset alone (a batch's padding studies are dropped), so batches never change a number.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from stsmeta.stats import bayes_study as study

#: Grid spacing as a fraction of the integrands' narrowest width, and its cap (logit units).
SPACING = 0.6
MAX_SPACING = 0.7
#: Grid extent beyond the integrand modes, in units of tau.
REACH = 8.5
#: Largest grid worth building: points * (P + 3 K) <= POINT_BUDGET * P * K for P nodes and K
#: distinct studies (a study integral costs about 30 array passes on each of its 32 nodes, a
#: grid point a few passes per node and per study).
POINT_BUDGET = 110
#: Columns with tau n_max at most this take Gauss-Hermite (HERMITE_NODES nodes) instead.
HERMITE_SLOPE = 1.0
HERMITE_NODES = 10
#: Gaussian weights per group of columns (512 kB of float64).
CHUNK = 65536
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _grid_sizes(x, n, tau, lo, hi):
    """Per column (T,): the theta range [start, stop] and the number of points it needs."""
    ends = np.stack([lo, hi], axis=-1)[:, :, None]  # (T, 2, 1)
    zhat, _ = study.integrand_modes(x, n, ends, tau[:, None, None])
    modes = ends + tau[:, None, None] * zhat  # (T, 2, K)
    # The integrand of mu lies between mu and its mode (the Gaussian factor peaks at mu).
    start = np.minimum(modes[:, 0].min(axis=-1), lo) - REACH * tau
    stop = np.maximum(modes[:, 1].max(axis=-1), hi) + REACH * tau
    width = 1.0 / np.sqrt(1.0 / (tau * tau) + n.max() / 4.0)
    spacing = np.minimum(SPACING * width, MAX_SPACING)
    points = np.ceil((stop - start) / spacing).astype(int) + 1
    return start, stop, points


def column_log_likelihoods(data, mu, tau, lo, hi):
    """sum_i count_i (log L_i - log sqrt(2 pi) + log C(n_i, x_i)) at mu (T, P) for one
    dataset (``data`` its (x, n, count, log_choose), each (K,)), tau (T,), the columns'
    ranges [lo, hi] (T,) holding every mu. Returns the sums (T, P) and which columns were done
    (T,); the other columns' rows are left as NaN."""
    studies = np.count_nonzero(data[2])
    count, lchoose = data[2][:studies], data[3][:studies]
    ll, done = log_integrals(data, mu, tau, lo, hi)
    return (count * (ll[..., :studies] - _HALF_LOG_2PI + lchoose)).sum(axis=-1), done


def log_integrals(data, mu, tau, lo, hi):
    """Each study's log int B_i(mu + tau z) exp(-z^2 / 2) dz (as ``bayes_study.log_integrals``)
    at mu (T, P) and each study (K,): (T, P, K), NaN in the columns not done; and which were.

    The columns are taken in order of their grid sizes, in groups of about CHUNK Gaussian
    weights, each group on as many points as its largest column needs (a finer spacing for
    the others only makes them more accurate)."""
    # A batch pads its rows with empty studies (they sort last): dropped, so that the
    # arrays, and every number, are those of the dataset alone.
    studies = np.count_nonzero(data[2])
    x, n = data[0][:studies], data[1][:studies]
    out = np.full(mu.shape + data[0].shape, np.nan)
    hermite = tau * n.max() <= HERMITE_SLOPE
    if hermite.any():
        out[hermite, :, :studies] = _hermite_log_integrals(x, n, mu[hermite], tau[hermite])
    start, stop, points = _grid_sizes(x, n, tau, lo, hi)
    # Cost model (measured): a grid point costs about (P + 3 K) / 110 of one study integral
    # at P nodes (Gaussian weights for every node, the likelihoods once per study).
    nodes = mu.shape[-1]
    done = ~hermite & (points * (nodes + 3 * studies) <= POINT_BUDGET * nodes * studies)
    order = np.flatnonzero(done)
    order = order[np.argsort(points[order], kind="stable")]
    s = 0
    while s < order.size:
        # Columns while the group's weight matrix (columns x P x its largest size) fits.
        e = s + 1
        while e < order.size and (e + 1 - s) * points[order[e]] * mu.shape[1] <= CHUNK:
            e += 1
        cols = order[s:e]
        ll, ok = _group(x, n, mu[cols], tau[cols], start[cols], stop[cols], points[cols[-1]])
        out[cols[ok], :, :studies] = ll[ok]
        done[cols[~ok]] = False
        s = e
    return out, done | hermite


def _hermite_log_integrals(x, n, mu, tau):
    """``log_integrals`` for columns with tau n_max <= HERMITE_SLOPE by HERMITE_NODES-point
    Gauss-Hermite in z: the integrand is B(mu + tau z) times the normal density, and
    log B(mu + tau z) has slope at most tau n_max and curvature at most tau^2 n_max / 4 in z,
    so the rule's error is about that for e^(s z) with |s| <= 1, s^(2Q) / (2^Q (2Q)! / Q!): 1e-15
    relative for Q = 10."""
    z, w = _hermite(HERMITE_NODES)
    eta = mu[..., None] + tau[:, None, None] * z  # (C, P, Q)
    log_b = x * eta[..., None] - n * study.softplus(eta[..., None])  # (C, P, Q, K)
    top = log_b.max(axis=2, keepdims=True)
    return np.log(np.einsum("cpqk,q->cpk", np.exp(log_b - top), w)) + top[:, :, 0]


@lru_cache(maxsize=4)
def _hermite(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of int f(z) e^(-z^2 / 2) dz."""
    return np.polynomial.hermite_e.hermegauss(q)


def _group(x, n, mu, tau, start, stop, size):
    """``log_integrals`` for C columns on grids of ``size`` points (C, P, K); also whether
    no sum underflowed (C,)."""
    h = (stop - start) / (size - 1)
    theta = start[:, None] + h[:, None] * np.arange(size)  # (C, G)
    log_b = x * theta[..., None] - n * study.softplus(theta[..., None])  # (C, G, K)
    top = log_b.max(axis=1, keepdims=True)
    lik = np.exp(log_b - top)
    # exp(-(theta - mu)^2 / (2 tau^2)) as exp(-(theta' - mu')^2), both scaled first (small).
    scale = (_SQRT_HALF / tau)[:, None]
    gauss = (theta * scale)[:, None, :] - (mu * scale)[:, :, None]
    np.square(gauss, out=gauss)
    np.negative(gauss, out=gauss)
    np.exp(gauss, out=gauss)  # (C, P, G)
    sums = np.matmul(gauss, lik)  # (C, P, K)
    ok = ~(sums < 1e-280).any(axis=(1, 2))
    with np.errstate(divide="ignore"):
        return np.log(sums) + top + np.log(h / tau)[:, None, None], ok
