"""Quantiles and tail areas of the normal, t and chi-squared distributions.

These are the special functions that scipy.stats itself evaluates (``norm.ppf`` is ``ndtri``,
``t.ppf`` is ``stdtrit``, ``chi2.sf`` is ``chdtrc``, ``chi2.ppf`` is twice ``gammaincinv(df/2,
p)``), so the numbers are the same; importing scipy.stats would cost about half a second in
every coverage job, more than the fits of a small shard.
"""

from __future__ import annotations

from scipy import special


def norm_ppf(q):
    return special.ndtri(q)


def t_ppf(q, df):
    return special.stdtrit(df, q)


def chi2_sf(x, df):
    return special.chdtrc(df, x)


def chi2_ppf(p, df):
    return 2 * special.gammaincinv(df / 2, p)
