"""The two tests run on every cell every minute, on a beta-binomial model of failing devices.

Why beta-binomial: devices in a cohort are not independent coin flips. They share an access
point, a network, a software build, the same Monday-morning rush; their failure probability
itself varies from minute to minute. With intra-cohort correlation ``rho`` the count of
failing devices among ``n`` has variance ``n p (1-p) (1 + (n-1) rho)`` instead of
``n p (1-p)``. A binomial test tuned on independent devices raises 0.1-1 false alarms per
cohort per day at rho = 0.02, thousands a day over a fleet's cells; the beta-binomial keeps
it near 1e-4 (research notes §4.4).

* :func:`upper_tail`: P(X >= x) for X ~ BetaBinomial(n, p, rho): the fast path's one-shot
  test for a hard outage.
* :func:`cusum_step`: one step of the CUSUM of the log-likelihood ratio of p1 over p0 under
  the same model: the accumulating path for partial and gradual outages.

Parametrisation: mean ``p`` and correlation ``rho`` give ``a = p (1/rho - 1)`` and
``b = (1-p) (1/rho - 1)``. ``rho`` = 0 is the binomial.
"""

from __future__ import annotations

from functools import lru_cache
from math import exp, lgamma, log

MIN_P = 1e-6
MAX_P = 1 - 1e-6


def _clamp(p: float) -> float:
    return min(max(p, MIN_P), MAX_P)


@lru_cache(maxsize=65536)
def _log_choose(n: int, k: int) -> float:
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)


def _lbeta(a: float, b: float) -> float:
    return lgamma(a) + lgamma(b) - lgamma(a + b)


def logpmf(x: int, n: int, p: float, rho: float) -> float:
    """log P(X = x) for X ~ BetaBinomial(n, mean p, correlation rho)."""
    if not 0 <= x <= n:
        return float("-inf")
    p = _clamp(p)
    if rho <= 0:
        return _log_choose(n, x) + x * log(p) + (n - x) * log(1 - p)
    scale = 1 / rho - 1
    a, b = p * scale, (1 - p) * scale
    return _log_choose(n, x) + _lbeta(x + a, n - x + b) - _lbeta(a, b)


def upper_tail(x: int, n: int, p: float, rho: float) -> float:
    """P(X >= x): 1 for x <= 0; summed from x upward until the terms stop mattering.

    Only called where ``x`` is above the mean (the core skips cells that are not), where the
    terms fall off quickly, so the loop is short even for a fleet-wide cell."""
    if x <= 0:
        return 1.0
    if x > n:
        return 0.0
    first = logpmf(x, n, p, rho)
    total, k, term = 0.0, x, first
    while k <= n:
        value = exp(term - first)
        total += value
        if value < 1e-12 * total and k > x + 2:
            break
        k += 1
        term = logpmf(k, n, p, rho) if k <= n else float("-inf")
    return min(1.0, exp(first) * total)


def cusum_step(s: float, x: int, n: int, p0: float, p1: float, rho: float) -> float:
    """The CUSUM after one more minute: max(0, s + log f(x | p1) - log f(x | p0))."""
    if n <= 0:
        return s
    return max(0.0, s + logpmf(x, n, p1, rho) - logpmf(x, n, p0, rho))


def shifted(p0: float) -> float:
    """The failure rate the CUSUM is tuned to detect: max(3 p0, p0 + 0.15)."""
    return _clamp(max(3 * p0, p0 + 0.15))


def window_rate(p0: float, minutes: int) -> float:
    """The chance a device fails in at least one of ``minutes`` independent minutes."""
    return _clamp(1 - (1 - _clamp(p0)) ** minutes)
