"""The shared feature formulas and constants (shared/features/formulas.py, shared/geo.py) pinned to the
spec, with cases at each boundary computed here, independently of the code under test.

Training and serving call the same formulas, so the three-way agreement of the feature tests cannot
see a wrong one: a geo-velocity limit of 600 km/h instead of 900 passes it. These cases can.

The spec: sprint3-solution.md section 1.2 names the features; features.md defines them:
- 1 txn_velocity_1h: purchases in (t - 60 min, t)
- 2 wallet_age_days: days from the first on-chain activity to t; 0 for a wallet never seen
- 4 event_popularity_score: 0.5 x (sold / capacity) + 0.5 x (24 h sales / the busiest live event's
  24 h sales), in [0, 1]
- 5 price_deviation_ratio: (p - ref) / ref, ref = the 7-day median trade price, else the face value
- 7 geo_velocity_flag: 1 if the implied speed between the previous and this location (great-circle
  distance / elapsed time) exceeds 900 km/h with the two points over 100 km apart; else 0
- 8 payment_method_diversity: instruments used in the last 30 days
- 9 wallet_centrality: PageRank over the transfers of the last 30 days
- 10 resale_time: hours from mint to t
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from shared.features import formulas
from shared.geo import EARTH_RADIUS_KM, great_circle_km

T = datetime(2026, 3, 2, 12, tzinfo=UTC)

# The IUGG mean Earth radius R1 = (2a + b) / 3 of the WGS 84 ellipsoid, in km (Moritz, "Geodetic
# Reference System 1980", Bulletin Géodésique 54, 1980): the sphere haversine distances are taken on.
WGS84_A_KM = 6378.137
WGS84_B_KM = 6356.752314245
IUGG_MEAN_RADIUS_KM = 6371.0088


def _meridian_point(north_km: float, lat0: float = 10.0, lon: float = 20.0) -> tuple[float, float]:
    """The point `north_km` north of (lat0, lon) along its meridian: on a sphere the great-circle
    distance between two points of one meridian is the radius times their latitude difference."""
    return lat0 + math.degrees(north_km / IUGG_MEAN_RADIUS_KM), lon


def _law_of_cosines_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance by the spherical law of cosines (not the haversine the code uses)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    cos_angle = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return IUGG_MEAN_RADIUS_KM * math.acos(max(-1.0, min(1.0, cos_angle)))


# ------------------------------------------------------------------------------------------ constants
def test_windows_are_the_spec_windows() -> None:
    assert timedelta(minutes=60) == formulas.VELOCITY_WINDOW  # feature 1
    assert timedelta(hours=24) == formulas.POPULARITY_WINDOW  # feature 4
    assert timedelta(days=7) == formulas.PRICE_REFERENCE_WINDOW  # feature 5
    assert timedelta(days=30) == formulas.PAYMENT_WINDOW  # feature 8
    assert timedelta(days=30) == formulas.CENTRALITY_WINDOW  # feature 9


def test_geo_velocity_thresholds_are_the_spec_thresholds() -> None:
    assert formulas.GEO_SPEED_LIMIT_KMH == 900.0
    assert formulas.GEO_MIN_DISTANCE_KM == 100.0


def test_earth_radius_is_the_iugg_mean_radius() -> None:
    assert pytest.approx(IUGG_MEAN_RADIUS_KM, abs=1e-4) == (2 * WGS84_A_KM + WGS84_B_KM) / 3
    assert EARTH_RADIUS_KM == IUGG_MEAN_RADIUS_KM


# ------------------------------------------------------------------------------------------- distance
@pytest.mark.parametrize("km", [1.0, 99.9, 100.1, 850.0, 1000.0, 5000.0])
def test_great_circle_along_a_meridian_is_radius_times_latitude_difference(km: float) -> None:
    a, b = _meridian_point(0.0), _meridian_point(km)
    assert great_circle_km(*a, *b) == pytest.approx(km, abs=1e-6)


def test_great_circle_quarter_and_half_circumference() -> None:
    quarter = math.pi / 2 * IUGG_MEAN_RADIUS_KM  # 10,007.5 km: equator to pole
    assert great_circle_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(quarter, abs=1e-6)
    assert great_circle_km(0.0, 0.0, 0.0, 90.0) == pytest.approx(quarter, abs=1e-6)
    assert great_circle_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(2 * quarter, abs=1e-6)


@pytest.mark.parametrize(
    ("a", "b", "reference_km"),
    [
        # London - Paris, New York - London, Sydney - Santiago: reference figures on the mean sphere
        ((51.5074, -0.1278), (48.8566, 2.3522), 343.56),
        ((40.7128, -74.0060), (51.5074, -0.1278), 5570.24),
        ((-33.8688, 151.2093), (-33.4489, -70.6693), 11340.0),
    ],
)
def test_great_circle_agrees_with_the_law_of_cosines_and_references(
    a: tuple[float, float], b: tuple[float, float], reference_km: float
) -> None:
    ours = great_circle_km(*a, *b)
    assert ours == pytest.approx(_law_of_cosines_km(*a, *b), abs=1e-6)
    assert ours == pytest.approx(reference_km, rel=2e-3)
    assert great_circle_km(*b, *a) == pytest.approx(ours, abs=1e-9)  # symmetric


# -------------------------------------------------------------------------------------- geo velocity
def _flag(distance_km: float, elapsed: timedelta) -> float:
    previous = _meridian_point(0.0)
    here = _meridian_point(distance_km)
    return formulas.geo_velocity_flag((*previous, T - elapsed), *here, T)


@pytest.mark.parametrize(
    ("speed_kmh", "flag"),
    [(600.0, 0.0), (850.0, 0.0), (899.0, 0.0), (901.0, 1.0), (950.0, 1.0), (2000.0, 1.0)],
)
def test_geo_velocity_flags_speeds_over_900_kmh(speed_kmh: float, flag: float) -> None:
    # 1,000 km between the two requests, in the time that speed takes
    elapsed = timedelta(hours=1000.0 / speed_kmh)
    assert _flag(1000.0, elapsed) == flag


@pytest.mark.parametrize(("distance_km", "flag"), [(50.0, 0.0), (99.9, 0.0), (100.1, 1.0), (150.0, 1.0)])
def test_geo_velocity_needs_the_points_over_100_km_apart(distance_km: float, flag: float) -> None:
    # One minute apart: any distance over 15 km is over 900 km/h, so only the distance rule decides
    assert _flag(distance_km, timedelta(minutes=1)) == flag


def test_geo_velocity_either_side_of_the_limit_just_over_the_distance_floor() -> None:
    # 120 km (over the floor): in 7.9 minutes (911 km/h) flagged, in 8.1 minutes (889 km/h) not
    assert _flag(120.0, timedelta(minutes=7.9)) == 1.0
    assert _flag(120.0, timedelta(minutes=8.1)) == 0.0


def test_geo_velocity_same_instant_far_apart_is_flagged_and_unknowns_are_not() -> None:
    assert _flag(500.0, timedelta(0)) == 1.0
    assert _flag(500.0, -timedelta(minutes=5)) == 1.0  # out of order: no elapsed time
    assert formulas.geo_velocity_flag(None, 10.0, 20.0, T) == 0.0
    assert formulas.geo_velocity_flag((10.0, 20.0, T - timedelta(minutes=1)), None, None, T) == 0.0


# ------------------------------------------------------------------------------ the other formulas
def test_wallet_age_is_days_since_first_activity_and_zero_when_never_seen() -> None:
    assert formulas.wallet_age_days(None, T) == 0.0
    assert formulas.wallet_age_days(T, T) == 0.0
    assert formulas.wallet_age_days(T + timedelta(seconds=1), T) == 0.0  # seen only after t
    assert formulas.wallet_age_days(T - timedelta(hours=12), T) == 0.5
    assert formulas.wallet_age_days(T - timedelta(days=400, hours=6), T) == 400.25


def test_resale_time_is_hours_from_mint() -> None:
    assert formulas.resale_time_hours(T - timedelta(minutes=90), T) == 1.5
    assert formulas.resale_time_hours(T - timedelta(days=2), T) == 48.0
    assert formulas.resale_time_hours(T, T) == 0.0


@pytest.mark.parametrize(
    ("price", "median_7d", "face_value", "expected"),
    [
        (60.0, None, 50.0, 0.2),  # no trade in 7 days: the face value
        (60.0, 40.0, 50.0, 0.5),  # the 7-day median first, over the face value
        (30.0, 40.0, 50.0, -0.25),  # below the reference: negative
        (40.0, 40.0, 50.0, 0.0),
        (0.0, None, 50.0, -1.0),  # a free transfer of a paid ticket
        (60.0, None, None, None),  # no reference at all: missing, not 0
        (60.0, None, 0.0, None),  # a free event: no meaningful deviation
        (60.0, 0.0, 50.0, None),  # a zero median is no reference either (it is not replaced)
    ],
)
def test_price_deviation_ratio(
    price: float, median_7d: float | None, face_value: float | None, expected: float | None
) -> None:
    got = formulas.price_deviation_ratio(price, median_7d, face_value)
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-12))


@pytest.mark.parametrize(
    ("sold", "capacity", "sales_24h", "max_24h", "expected"),
    [
        (50, 100, 10, 20, 0.5 * 0.5 + 0.5 * 0.5),
        (100, 100, 20, 20, 1.0),  # the upper bound
        (150, 100, 20, 20, 1.0),  # oversold: sell-through capped at 1, the score stays in [0, 1]
        (150, 100, 0, 20, 0.5),
        (0, 100, 0, 0, 0.0),  # no sales anywhere in 24 h: no momentum, no division by zero
        (10, 0, 5, 10, 0.25),  # no capacity known: no sell-through
        (25, 100, 3, 12, 0.5 * 0.25 + 0.5 * 0.25),
    ],
)
def test_event_popularity_score(
    sold: int, capacity: int, sales_24h: int, max_24h: int, expected: float
) -> None:
    got = formulas.event_popularity_score(sold, capacity, sales_24h, max_24h)
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= got <= 1.0
