"""The calibration's rate from step stamps (no model): the warm-up and stalled steps do not set the estimate."""

from __future__ import annotations

import pytest

from advisor.estimate.calibrate import steady_rate
from core.errors import ConfigError


def test_rate_skips_the_warm_up_and_a_stalled_step():
    # after the warm-up step: four 1.0 s steps of 500 tokens and one stalled 5.6 s step (other work on the machine)
    stamps = [(10.0, 400), (11.0, 900), (12.0, 1400), (17.6, 1900), (18.6, 2400), (19.6, 2900)]
    rate, tokens, seconds = steady_rate(stamps)
    assert (tokens, seconds) == (2000, pytest.approx(4.0)) and rate == pytest.approx(500.0)


def test_rate_keeps_steps_within_twice_the_median():
    stamps = [(0.0, 0), (1.0, 100), (2.5, 250), (4.0, 400)]  # 1.0 s, 1.5 s and 1.5 s: all kept
    rate, tokens, seconds = steady_rate(stamps)
    assert tokens == 400 and seconds == pytest.approx(4.0) and rate == pytest.approx(100.0)


def test_no_timed_step_is_an_error():
    with pytest.raises(ConfigError, match="timed no step"):
        steady_rate([(1.0, 10)])
