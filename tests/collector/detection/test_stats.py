"""The beta-binomial model: against brute force, the binomial limit, and its variance."""

from __future__ import annotations

from math import comb, exp

import pytest

from dexpulse.collector.detection.stats import (
    cusum_step,
    logpmf,
    shifted,
    upper_tail,
    window_rate,
)


def test_rho_zero_is_the_binomial() -> None:
    for x in range(0, 11):
        binomial = comb(10, x) * 0.2**x * 0.8 ** (10 - x)
        assert exp(logpmf(x, 10, 0.2, 0.0)) == pytest.approx(binomial, rel=1e-9)


@pytest.mark.parametrize(("n", "p", "rho"), [(10, 0.02, 0.02), (40, 0.1, 0.05), (200, 0.01, 0.02)])
def test_pmf_sums_to_one_and_has_the_overdispersed_variance(n: int, p: float, rho: float) -> None:
    probs = [exp(logpmf(x, n, p, rho)) for x in range(n + 1)]
    assert sum(probs) == pytest.approx(1.0, abs=1e-9)
    mean = sum(x * q for x, q in enumerate(probs))
    variance = sum((x - mean) ** 2 * q for x, q in enumerate(probs))
    assert mean == pytest.approx(n * p, rel=1e-6)
    assert variance == pytest.approx(n * p * (1 - p) * (1 + (n - 1) * rho), rel=1e-6)


@pytest.mark.parametrize(
    ("x", "n", "p", "rho"),
    [(3, 10, 0.02, 0.02), (9, 40, 0.05, 0.02), (30, 100, 0.01, 0.02), (1, 5, 0.3, 0.1)],
)
def test_upper_tail_equals_the_exact_sum(x: int, n: int, p: float, rho: float) -> None:
    exact = sum(exp(logpmf(k, n, p, rho)) for k in range(x, n + 1))
    assert upper_tail(x, n, p, rho) == pytest.approx(exact, rel=1e-8)


def test_correlation_makes_a_cluster_less_surprising() -> None:
    """Why the model: 6 of 30 failing at p0 = 2 % is astronomically rare for independent
    devices and merely unusual for correlated ones."""
    assert upper_tail(6, 30, 0.02, 0.0) < 1e-4
    assert upper_tail(6, 30, 0.02, 0.02) > 10 * upper_tail(6, 30, 0.02, 0.0)


def test_cusum_grows_on_failures_and_drains_on_quiet_minutes() -> None:
    p0 = 0.01
    s = 0.0
    for _ in range(3):
        s = cusum_step(s, 8, 40, p0, shifted(p0), 0.02)
    assert s > 16
    for _ in range(40):
        s = cusum_step(s, 0, 40, p0, shifted(p0), 0.02)
    assert s == 0.0


def test_shift_and_window_rates() -> None:
    assert shifted(0.01) == pytest.approx(0.16)
    assert shifted(0.2) == pytest.approx(0.6)
    assert window_rate(0.01, 3) == pytest.approx(1 - 0.99**3)
