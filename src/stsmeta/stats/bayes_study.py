"""Each study's effect integrated out, for the quadrature of the Bayesian model
(``stats.bayes_grid``): log L_i(mu, tau) = log int Binomial(x_i | n_i, expit(mu + tau z)) phi(z) dz
at many (mu, tau) at once, and (for Newton's method) its first two derivatives in mu.

The integral over z is taken on each side of the integrand's mode by Gauss-Legendre in a
logarithmically stretched variable (``_spans``). The many-point evaluation (``log_integrals``)
runs in blocks of about CHUNK node values written into buffers it reuses: whole-grid temporaries
(megabytes each) made the allocator map fresh pages for every operation, which cost as much as
the arithmetic. Every integral is computed on its own, so the blocks never change a number.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import special

#: Gauss-Legendre nodes on each side of a study integrand's mode.
GH_NODES = 16
#: Gauss-Legendre nodes on each side of the cliff of a study at 0% or 100% (``_cliff_log_...``).
CLIFF_NODES = 24
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
#: Node values per block of ``log_integrals`` (256 kB of float64 per buffer).
CHUNK = 32768


@lru_cache(maxsize=8)
def _legendre01(q: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(q)
    return 0.5 * (t + 1), np.log(0.5 * w)


def integrand_modes(x, n, mu, tau):
    """Mode z and curvature scale of each study's integrand x eta - n log(1 + e^eta) - z^2 / 2,
    eta = mu + tau z, by Newton's method on d = eta - mu (so that tiny tau loses no digits):
    F(d) = x - n expit(mu + d) - d / tau^2 decreases, steps are capped at 3 logit units (the
    sigmoid saturates beyond), and the start is the data's own logit when tau^2 n is large.

    Each element stops at its own convergence (later steps act only on the unconverged rest),
    so an element's result does not depend on the others in the batch, and the work falls as
    the elements converge."""
    shape = np.broadcast_shapes(x.shape, n.shape, mu.shape, tau.shape)
    x, n, mu, tau = (np.broadcast_to(a, shape).ravel() for a in (x, n, mu, tau))
    tau2 = tau * tau
    d = np.where(tau2 * n > 4.0, special.logit((x + 0.5) / (n + 1.0)) - mu, 0.0)
    active = np.arange(d.size)
    xa, na, ma, t2, da = x, n, mu, tau2, d
    for _ in range(60):
        p = special.expit(ma + da)
        slope = na * p * (1 - p) + 1.0 / t2
        step = np.clip((xa - na * p - da / t2) / slope, -3.0, 3.0)
        da = da + step
        going = np.abs(step) > 1e-10 * (1 + np.abs(da))
        if not going.all():
            d[active] = da
            active, xa, na, ma, t2, da = (a[going] for a in (active, xa, na, ma, t2, da))
            if active.size == 0:
                break
    d[active] = da
    p = special.expit(mu + d)
    zhat = d / tau
    sigma = 1.0 / np.sqrt(tau2 * n * p * (1 - p) + 1.0)
    return zhat.reshape(shape), sigma.reshape(shape)


def _spans(x, n, mu, tau, zhat, sigma):
    """The rule for the integral over z of a study's integrand h: Gauss-Legendre on each side
    of the mode in w, z = zhat -/+ sigma (e^w - 1), w in [0, span], span = log(1 + E / sigma).
    Returns span (..., 2) (left, right) and h(zhat) + log(sigma), the scale of the integral.

    h is concave with curvature at least 1 (its -z^2 / 2 term), so it falls by more than 40
    within E = 9 of the mode. Where it has already fallen by 28 at 8 sigma (a near-normal side,
    e.g. a large study), concavity bounds the rest by the tangent there and E = 10 sigma;
    otherwise the tangent at 8 sigma gives the end where h has fallen by 40, if nearer. The
    logarithmic stretch resolves both the mode's own scale and the unit scale of the normal
    density: with large tau a study at 0% or 100% has a cliff of width ~ 1 / tau on one side of
    its mode and a normal shoulder on the other, which Gauss-Hermite nodes centred on the mode do
    not resolve (their error does not fall steadily with more nodes).
    """

    def h(z):
        eta = mu + tau * z
        return x * eta - n * softplus(eta) - 0.5 * z * z

    peak = h(zhat)
    spans = []
    for sign in (-1.0, 1.0):
        z8 = zhat + sign * 8 * sigma
        drop = peak - h(z8)
        # Concavity: beyond z8, h lies below its tangent there, so it has fallen by 40 within
        # (40 - drop) / |h'(z8)| more (a bump with exponential tails, e.g. a study of 20 at
        # 50% with tau = 40, falls by only 23 at 8 sigma; E = 9 then spread the nodes so
        # thin that log L was off by 1e-3).
        slope = np.abs(tau * (x - n * special.expit(mu + tau * z8)) - z8)
        with np.errstate(divide="ignore"):
            reach = 8 * sigma + np.maximum(40.0 - drop, 0.0) / slope
        extent = np.where(drop >= 28, 10 * sigma, np.minimum(reach, 9.0))
        spans.append(np.log1p(extent / sigma))
    return np.stack(spans, axis=-1), peak + np.log(sigma)


def softplus(eta):
    """log(1 + e^eta) = max(eta, 0) + log1p(e^-|eta|): the same to rounding as
    np.logaddexp(0, eta), at half its cost (its exponential is vectorised, logaddexp's is not)."""
    return np.maximum(eta, 0.0) + np.log1p(np.exp(-np.abs(eta)))


def _softplus(eta, out, work):
    """log(1 + e^eta) into ``out``: max(eta, 0) + log1p(e^-|eta|), ``work`` a scratch array."""
    np.abs(eta, out=work)
    np.negative(work, out=work)
    np.exp(work, out=work)
    np.log1p(work, out=work)
    np.maximum(eta, 0.0, out=out)
    out += work
    return out


def log_integrals(x, n, mu, tau):
    """log int exp(x eta - n log(1 + e^eta)) phi(z) dz, eta = mu + tau z, for arrays that
    broadcast together (the binomial coefficient not included)."""
    shape = np.broadcast_shapes(x.shape, n.shape, mu.shape, tau.shape)
    x, n, mu, tau = (np.broadcast_to(a, shape).ravel() for a in (x, n, mu, tau))
    out = np.empty(x.size)
    cliff, mu_up = _cliff_cases(x, n, mu, tau)
    out[cliff] = _cliff_log_integrals(n[cliff], mu_up[cliff], tau[cliff])
    rest = ~cliff
    out[rest] = _regular_log_integrals(x[rest], n[rest], mu[rest], tau[rest])
    return out.reshape(shape)


def _regular_log_integrals(x, n, mu, tau):
    """``log_integrals`` on 1-D arrays by the stretched Gauss-Legendre rule (``_spans``)."""
    if x.size == 0:
        return np.empty(0)
    zhat, sigma = integrand_modes(x, n, mu, tau)
    shape = zhat.shape
    span, top = _spans(x, n, mu, tau, zhat, sigma)
    x, n, mu, tau = (a.reshape(-1, 1) for a in (x, n, mu, tau))
    zhat, sigma, top = zhat.reshape(-1, 1), sigma.reshape(-1, 1), top.reshape(-1, 1)
    span = span.reshape(-1, 2, 1)
    u, log_wu = _legendre01(GH_NODES)
    q = 2 * GH_NODES
    side = np.array([-1.0, 1.0])[:, None]
    # Offset of each node's log weight: log(sigma * span * wu) + w - top, w = span * u.
    shift = (np.log(sigma) - top)[:, :, None] + np.log(span)
    size = x.shape[0]
    block = max(1, CHUNK // q)
    w, z, eta, sp, work = (np.empty((min(block, size), q)) for _ in range(5))
    out = np.empty(size)
    for s in range(0, size, block):
        e = min(s + block, size)
        m = e - s
        w_, z_, eta_, sp_, work_ = w[:m], z[:m], eta[:m], sp[:m], work[:m]
        w3, z3 = w_.reshape(m, 2, GH_NODES), z_.reshape(m, 2, GH_NODES)
        np.multiply(span[s:e], u, out=w3)
        np.expm1(w3, out=z3)
        z3 *= side * sigma[s:e, :, None]
        z_ += zhat[s:e]
        w3 += shift[s:e]
        w3 += log_wu
        # log f = x eta - n softplus(eta) - z^2 / 2 + log weight - top, built in w_.
        np.multiply(z_, tau[s:e], out=eta_)
        eta_ += mu[s:e]
        _softplus(eta_, sp_, work_)
        eta_ *= x[s:e]
        w_ += eta_
        sp_ *= n[s:e]
        w_ -= sp_
        np.square(z_, out=z_)
        z_ *= 0.5
        w_ -= z_
        np.exp(w_, out=w_)
        out[s:e] = w_.sum(axis=-1)
    return (top[:, 0] + np.log(out)).reshape(shape)


def _cliff_cases(x, n, mu, tau):
    """Which integrals ``_cliff_log_integrals`` takes, and mu for its 100% form (a study at 0%
    is the 100% one mirrored: x -> n - x, mu -> -mu, z -> -z): a study at 0% or 100% with
    tau >= 1.5 and the cliff c no further right of the normal density's centre than
    2 tau n / (n + 1) (the integrand's slope at c is tau n / (n + 1) - c: the pieces must fall
    away from c). Chosen by comparison with adaptive quadrature (scipy quad, breakpoints at the
    cliff) over n 1..5000, mu -40..40, tau 0.5..1e5: there the cliff rule is within 2e-6 of it
    in log L, the stretched rule within 3e-5 everywhere else where L > e^-30 (within 1e-7
    mostly; its worst are studies of 1 to 7 at 100% with mu far below, L < e^-10)."""
    full = (x == n) & (n > 0)
    empty = (x == 0) & (n > 0)
    mu_up = np.where(empty, -mu, mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (np.log(np.maximum(n, 1.0)) - mu_up) / tau
        steep = c <= 2.0 * tau * n / (n + 1.0)
    return (full | empty) & (tau >= 1.5) & steep, mu_up


def _cliff_log_integrals(n, mu, tau):
    """log int expit(mu + tau z)^n phi(z) dz (a study at 100%) for tau >= 1.5 (1-D arrays).

    The integrand is a cliff of width ~ 1 / tau at c = (log n - mu) / tau times the normal
    density. The stretched rule centred at the integrand's mode cannot resolve both the cliff
    and the normal density's unit scale when they are apart (its log L was off by up to 4e-2
    for tau from 4 to 1e5, for every n). With g = expit^n and r = 1 - g, exactly
        L = (1 - Phi(c)) - int_c^inf r phi dz + int_-inf^c g phi dz,
    and both integrands are concentrated within a few 1 / tau of c: r decays like
    n e^-eta beyond c (to e^-45 within 45 / tau), g like e^(n eta) below eta = 0 (and through
    [0, log n] from c). Each is Gauss-Legendre in w, z = c +/- (e^w - 1) / tau. Their sum is at
    most 1 - Phi(c) in size and positive, so no digits are lost to cancellation.
    """
    if n.size == 0:
        return np.empty(0)
    log_n = np.log(n)
    c = (log_n - mu) / tau
    scale = 1.0 / tau
    u, log_wu = _legendre01(CLIFF_NODES)
    total = special.ndtr(-c)
    # At z = c +/- (e^w - 1) / tau, eta = log n +/- (e^w - 1): the nodes in eta, and with them
    # g and r, depend on n only; per integral only the normal density phi(z) is computed.
    sizes, which = np.unique(n, return_inverse=True)
    log_sizes = np.log(sizes)
    block = max(1, CHUNK // CLIFF_NODES)
    for sign in (1.0, -1.0):
        extent = 45.0 if sign > 0 else log_sizes + 45.0 / sizes + 5.0
        span = np.log1p(np.broadcast_to(extent, sizes.shape))[:, None]
        w = span * u
        stretch = np.expm1(w)
        log_g = -sizes[:, None] * np.logaddexp(0.0, -(log_sizes[:, None] + sign * stretch))
        f = -np.expm1(log_g) if sign > 0 else np.exp(log_g)
        # f times the weight span * wu * e^w (times scale, per integral, below).
        coef = f * np.exp(w + log_wu) * span
        for s in range(0, n.size, block):
            sl = slice(s, s + block)
            z = stretch[which[sl]]
            z *= sign * scale[sl, None]
            z += c[sl, None]
            np.square(z, out=z)
            z *= -0.5
            np.exp(z, out=z)
            z *= coef[which[sl]]
            part = scale[sl] * z.sum(axis=-1) / math.sqrt(2 * math.pi)
            total[sl] += -part if sign > 0 else part
    # As the stretched rule: without the normal density's 1 / sqrt(2 pi).
    return np.log(total) + _HALF_LOG_2PI


def _nodes(x, n, mu, tau):
    """Nodes z (..., 2 Q), log weights minus the scale, and the scale, of every integral."""
    zhat, sigma = integrand_modes(x, n, mu, tau)
    span, top = _spans(x, n, mu, tau, zhat, sigma)
    u, log_wu = _legendre01(GH_NODES)
    w = span[..., None] * u  # (..., 2, Q)
    side = np.array([-1.0, 1.0])[:, None]
    z = zhat[..., None, None] + side * sigma[..., None, None] * np.expm1(w)
    logw = w + (np.log(sigma) - top)[..., None, None] + np.log(span)[..., None] + log_wu
    q = 2 * GH_NODES
    return z.reshape(*z.shape[:-2], q), logw.reshape(*z.shape[:-2], q), top


def log_integrals_with_derivatives(x, n, mu, tau):
    """``log_integrals`` and its first and second derivatives in mu, as posterior moments
    (Louis 1982) of theta = mu + tau z: the score is E[z] / tau and the curvature
    (Var z - 1) / tau^2, which is stable for large tau; for small tau those cancel, and the
    binomial form E[r], E[r^2 - info] - E[r]^2 (r = x - n p) is used. For few points (Newton's
    method): whole arrays, no blocks."""
    z, logw, top = _nodes(x, n, mu, tau)
    tau_q = tau[..., None]
    eta = mu[..., None] + tau_q * z
    xq, nq = x[..., None], n[..., None]
    # top (the integrand's peak times sigma) is within a few units of the largest term: no
    # overflow, and the terms that matter keep their digits.
    e = np.exp(xq * eta - nq * softplus(eta) - 0.5 * z * z + logw)
    total = e.sum(axis=-1)
    post = e / total[..., None]
    ez = (post * z).sum(axis=-1)
    vz = (post * (z - ez[..., None]) ** 2).sum(axis=-1)
    p = special.expit(eta)
    r = xq - nq * p
    g_r = (post * r).sum(axis=-1)
    h_r = (post * (r * r - nq * p * (1 - p))).sum(axis=-1) - g_r * g_r
    large = tau > 0.05
    g = np.where(large, ez / tau, g_r)
    h = np.where(large, (vz - 1.0) / (tau * tau), h_r)
    ll = top + np.log(total)
    # The value where the cliff rule is the accurate one (the moments only steer Newton).
    shape = ll.shape
    xs, ns, ms, ts = (np.broadcast_to(a, shape).ravel() for a in (x, n, mu, tau))
    cliff, mu_up = _cliff_cases(xs, ns, ms, ts)
    if cliff.any():
        ll = ll.ravel().copy()
        ll[cliff] = _cliff_log_integrals(ns[cliff], mu_up[cliff], ts[cliff])
        ll = ll.reshape(shape)
    return ll, g, h
