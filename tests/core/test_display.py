"""How values are shown to people (:mod:`cairn.core.display`): one answer for every surface."""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cairn.core import display
from cairn.core.display import MISSING, ago, duration, iso_timestamp, number, plural, signed, size, timestamp, value

# -- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_value", "text"),
    [
        (None, MISSING),
        (math.nan, "NaN"),
        (-math.nan, "NaN"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (0.1 + 0.2, "0.3"),
        (0.123456789, "0.123457"),
        (-2.5, "-2.5"),
        (123456.0, "123456"),
        (1234567.0, "1.23457e+06"),
        (1e300, "1e+300"),
        (1.7976931348623157e308, "1.79769e+308"),
        (1e-12, "1e-12"),
        (5e-324, "4.94066e-324"),
        (-5e-324, "-4.94066e-324"),
        (0.0001, "0.0001"),
        (3, "3"),
    ],
)
def test_number(given_value: float | None, text: str) -> None:
    assert number(given_value) == text


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_number_reads_back_within_its_six_digits(x: float) -> None:
    text = number(x)
    assert len(text) <= len("-1.23457e+308")
    assert not text.startswith("-0") or text.startswith("-0.")  # no "-0"
    back = float(text)  # what it shows, Python reads again ("inf", "NaN" included)
    if math.isnan(x):
        assert math.isnan(back)
    elif math.isinf(x):
        assert back == x
    else:
        assert back == pytest.approx(x, rel=5e-6, abs=0) or (x == 0 and back == 0)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (None, MISSING),
        (0.0, "0"),
        (-0.0, "0"),
        (0.04, "+0.04"),
        (-1.2, "-1.2"),
        (math.inf, "+inf"),
        (-math.inf, "-inf"),
        (math.nan, "NaN"),
        (1e-20, "+1e-20"),
    ],
)
def test_signed(delta: float | None, text: str) -> None:
    assert signed(delta) == text


@pytest.mark.parametrize(
    ("item", "compact", "text"),
    [
        (None, True, MISSING),
        (True, True, "true"),
        (False, False, "false"),
        (3, True, "3"),
        (10**20, True, "100000000000000000000"),
        (0.30000000000000004, True, "0.3"),
        (0.30000000000000004, False, "0.30000000000000004"),
        (0.00012345678, False, "0.00012345678"),
        (-0.0, False, "0.0"),
        (math.inf, False, "inf"),
        (math.nan, False, "NaN"),
        ("<b>adam</b>", True, "<b>adam</b>"),  # escaping is the template's job
        ("", True, ""),
    ],
)
def test_value(item: object, compact: bool, text: str) -> None:
    assert value(item, compact=compact) == text


def test_plural() -> None:
    assert [plural(n, "run") for n in (0, 1, 2)] == ["0 runs", "1 run", "2 runs"]


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, MISSING),
        (0, "0ms"),
        (850, "850ms"),
        (999, "999ms"),
        (1_000, "1s"),
        (1_500, "1s"),
        (42_000, "42s"),
        (61_000, "1m 01s"),
        (192_000, "3m 12s"),
        (3_600_000, "1h 00m"),
        (3_720_000, "1h 02m"),
        (86_399_999, "23h 59m"),
        (86_400_000, "1d 00h"),
        (3 * 86_400_000 + 4 * 3_600_000, "3d 04h"),
        (10**15, "11574074d 01h"),
        (-850, "-850ms"),
        (-192_000, "-3m 12s"),
    ],
)
def test_duration(ms: int | None, text: str) -> None:
    assert duration(ms) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_a_duration_has_at_most_two_units_and_keeps_its_sign(ms: int) -> None:
    text = duration(ms)
    assert text.startswith("-") == (ms < 0)
    assert re.fullmatch(r"-?(\d+ms|\d+s|\d+m \d\ds|\d+h \d\dm|\d+d \d\dh)", text), text


# -- sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (None, MISSING),
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024 * 1024 - 1, "1.0 MiB"),  # not "1024.0 KiB"
        (1024 * 1024, "1.0 MiB"),
        (22_100_000, "21.1 MiB"),
        (8 << 30, "8.0 GiB"),
        (5 << 40, "5.0 TiB"),
        (2**70, "1024.0 EiB"),
        (-2048, "-2.0 KiB"),
    ],
)
def test_size(count: int | None, text: str) -> None:
    assert size(count) == text


@example(count=219_938_816)  # 209.75 MiB: exactly half a step between 209.7 and 209.8
@given(st.integers(min_value=1024, max_value=2**62))
def test_a_size_shows_below_1024_of_its_unit(count: int) -> None:
    amount, unit = size(count).split(" ")
    assert 1.0 <= float(amount) < 1024.0
    scale = 1024 ** (display._SIZE_UNITS.index(unit) + 1)
    # Half a step of the one decimal shown; 209.75 is shown as 209.8, which float division
    # can put a hair past 0.05 away.
    assert float(amount) == pytest.approx(count / scale, abs=0.05 + 1e-9)


# -- times -------------------------------------------------------------------------------------

# 2024-05-01 12:03:11.500 UTC
MS = 1_714_564_991_500
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def test_timestamp_in_the_zone_given() -> None:
    assert timestamp(MS, dt.UTC) == "2024-05-01 12:03:11"
    assert timestamp(MS, dt.UTC, show_zone=True) == "2024-05-01 12:03:11 UTC"
    assert timestamp(MS, BERLIN, show_zone=True) == "2024-05-01 14:03:11 CEST"
    assert timestamp(MS - 180 * 86_400_000, BERLIN, show_zone=True) == "2023-11-03 13:03:11 CET"
    assert timestamp(None, dt.UTC) == MISSING


def test_timestamp_in_the_local_zone_is_what_datetime_says() -> None:
    local = dt.datetime.fromtimestamp(MS / 1000).strftime("%Y-%m-%d %H:%M:%S")
    assert timestamp(MS, None) == local


@pytest.mark.parametrize("ms", [-(2**63), 2**63 - 1, 0, -1])
def test_a_time_out_of_range_is_shown_not_raised(ms: int) -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", timestamp(ms, dt.UTC))
    assert iso_timestamp(ms).endswith("Z")


def test_iso_timestamp_is_for_machines() -> None:
    assert iso_timestamp(MS) == "2024-05-01T12:03:11Z"
    assert iso_timestamp(None) == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-3600, "just now"),  # another machine's clock ahead of ours
        (0, "just now"),
        (9.9, "just now"),
        (10, "10 s ago"),
        (59, "59 s ago"),
        (60, "1 min ago"),
        (3599, "59 min ago"),
        (3600, "1 h ago"),
        (86_399, "23 h ago"),
        (86_400, "1 day ago"),
        (2 * 86_400, "2 days ago"),
        (30 * 86_400, "30 days ago"),
        (31 * 86_400, "2024-05-01"),
    ],
)
def test_ago(seconds: float, text: str) -> None:
    assert ago(MS, now=MS + int(seconds * 1000), zone=dt.UTC) == text


def test_ago_falls_back_to_the_date_in_the_zone_given() -> None:
    late = 1_714_604_400_000  # 2024-05-01 23:00 UTC, 2024-05-02 01:00 in Berlin
    later = late + 40 * 86_400_000
    assert ago(late, now=later, zone=dt.UTC, date_prefix="on ") == "on 2024-05-01"
    assert ago(late, now=later, zone=BERLIN) == "2024-05-02"
    assert ago(None, now=later, zone=dt.UTC) == MISSING
