"""The simulator's IPs geolocate (with the geoip2fast database the ETL uses) where it says they are."""

from __future__ import annotations

import ipaddress
import random

import pytest
from geoip2fast import GeoIP2Fast

from tooling.simulator.geo import COUNTRY_LOCATIONS, COUNTRY_NETWORKS, distance_km, far_country, random_ip


@pytest.fixture(scope="module")
def geo() -> GeoIP2Fast:
    return GeoIP2Fast()


@pytest.mark.parametrize("country", sorted(COUNTRY_NETWORKS))
def test_sampled_ips_resolve_to_their_country(geo: GeoIP2Fast, country: str) -> None:
    rng = random.Random(country)
    for index in range(len(COUNTRY_NETWORKS[country])):
        for _ in range(5):
            ip = random_ip(rng, country, index)
            assert ipaddress.ip_address(ip) in ipaddress.ip_network(COUNTRY_NETWORKS[country][index])
            assert geo.lookup(ip).country_code == country, ip


def test_every_country_has_networks_and_a_location() -> None:
    assert set(COUNTRY_NETWORKS) == set(COUNTRY_LOCATIONS)
    assert all(len(networks) >= 3 for networks in COUNTRY_NETWORKS.values())


def test_far_country_is_far() -> None:
    rng = random.Random(1)
    for home in COUNTRY_LOCATIONS:
        assert distance_km(home, far_country(rng, home, min_km=3000)) >= 3000
    assert 5000 < distance_km("GB", "US") < 6000  # London - New York is about 5,570 km
