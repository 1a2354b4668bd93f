"""The experience score: the pure core (no IO, no database, no clock).

Why a pure core: the score is the number IT leaders will argue about, so it must be exactly
reproducible from what is stored and easy to test without a collector. The collector's scoring
job reads samples, calls these functions and stores what they return; the API reads stored
results. The method, its defaults and worked examples are in ``docs/scoring.md``.

* :mod:`.catalogue`: the names (components, metrics, measures, event causes) and directions.
* :mod:`.config`: :class:`ScoringConfig`, every threshold and weight, validated, fingerprinted.
* :mod:`.hourly`: :func:`score_hour`, one device-hour from its samples.
* :mod:`.rollup`: :func:`score_period` (hours to a day, days to a week) and :func:`score_group`.
* :mod:`.compose`: the arithmetic shared by all of them, aggregates to score and losses.
* :mod:`.results`: what they return, with JSON round trips for storage.
"""

from __future__ import annotations

from .config import ScoringConfig
from .hourly import score_hour
from .results import Aggregates, EventTally, GroupScore, HourScore, Loss, PeriodScore, Tally
from .rollup import score_aggregates, score_group, score_period

__all__ = [
    "Aggregates",
    "EventTally",
    "GroupScore",
    "HourScore",
    "Loss",
    "PeriodScore",
    "ScoringConfig",
    "Tally",
    "score_aggregates",
    "score_group",
    "score_hour",
    "score_period",
]
