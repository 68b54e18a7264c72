"""Where simulated IPs come from: per country, networks that geoip2fast's shipped database places in
that country (the ETL geolocates with it), found once by sampling addresses with a fixed seed and
keeping the networks whose lookups agree (see `discover_networks`). A unit test re-checks them
against the installed database, so an update of geoip2fast that moves a network is caught."""

from __future__ import annotations

import ipaddress
import random

from shared.geo import CAPITALS, great_circle_km

# country -> networks geoip2fast resolves to it (discover_networks(seed=20261124), six per country).
COUNTRY_NETWORKS: dict[str, list[str]] = {
    "US": [
        "173.225.128.0/18",
        "12.96.0.0/12",
        "173.16.0.0/13",
        "204.242.96.0/19",
        "156.39.0.0/16",
        "214.0.0.0/7",
    ],
    "GB": [
        "82.8.0.0/13",
        "194.202.0.0/17",
        "25.128.0.0/9",
        "172.199.128.0/18",
        "23.223.120.0/21",
        "87.117.192.0/18",
    ],
    "DE": [
        "45.93.104.0/21",
        "178.8.0.0/13",
        "146.140.0.0/16",
        "194.175.0.0/16",
        "91.60.0.0/14",
        "43.131.0.0/18",
    ],
    "FR": [
        "144.204.0.0/16",
        "37.64.0.0/13",
        "213.41.128.0/17",
        "86.192.0.0/10",
        "165.54.0.0/16",
        "163.172.224.0/19",
    ],
    "ES": [
        "83.165.0.0/16",
        "34.175.0.0/16",
        "80.32.0.0/13",
        "81.32.0.0/12",
        "176.80.0.0/13",
        "37.218.0.0/17",
    ],
    "IT": ["94.34.0.0/15", "2.192.0.0/13", "85.40.0.0/13", "151.64.0.0/12", "2.224.0.0/12", "88.32.0.0/12"],
    "NL": [
        "20.103.0.0/16",
        "213.233.192.0/18",
        "20.123.128.0/17",
        "188.204.0.0/15",
        "145.15.0.0/16",
        "148.148.0.0/16",
    ],
    "SE": [
        "83.226.0.0/15",
        "136.163.0.0/16",
        "90.232.0.0/13",
        "83.168.214.0/23",
        "130.240.0.0/14",
        "147.180.0.0/16",
    ],
    "PL": [
        "195.128.172.0/23",
        "78.133.128.0/17",
        "212.180.128.0/17",
        "89.228.0.0/14",
        "188.95.24.0/21",
        "79.162.0.0/17",
    ],
    "BR": [
        "200.128.0.0/13",
        "189.64.0.0/12",
        "186.232.0.0/17",
        "45.239.144.0/20",
        "181.216.0.0/13",
        "191.52.128.0/18",
    ],
    "AR": [
        "186.128.0.0/12",
        "181.88.0.0/15",
        "186.122.0.0/19",
        "200.59.0.0/20",
        "181.96.0.0/12",
        "186.177.192.0/18",
    ],
    "MX": [
        "201.96.0.0/12",
        "189.192.0.0/13",
        "168.255.0.0/16",
        "187.192.0.0/11",
        "148.204.0.0/14",
        "148.208.0.0/13",
    ],
    "CA": [
        "75.152.0.0/13",
        "174.88.0.0/13",
        "199.22.0.0/15",
        "142.160.0.0/13",
        "130.63.0.0/16",
        "206.12.0.0/16",
    ],
    "JP": [
        "126.0.0.0/9",
        "150.96.0.0/14",
        "59.86.128.0/19",
        "133.0.0.0/8",
        "126.192.0.0/12",
        "150.64.0.0/12",
    ],
    "KR": [
        "211.192.0.0/10",
        "1.224.0.0/11",
        "222.112.0.0/13",
        "106.240.0.0/12",
        "175.224.0.0/11",
        "3.34.0.0/15",
    ],
    "SG": [
        "43.164.0.0/14",
        "20.247.128.0/17",
        "161.117.0.0/16",
        "8.160.0.0/11",
        "116.86.0.0/15",
        "196.57.22.0/24",
    ],
    "IN": [
        "203.143.176.0/20",
        "111.93.0.0/16",
        "120.56.0.0/13",
        "103.188.236.0/23",
        "124.7.0.0/16",
        "144.24.128.0/19",
    ],
    "AU": [
        "120.20.0.0/15",
        "223.252.0.0/18",
        "124.176.0.0/12",
        "203.40.0.0/13",
        "110.150.0.0/16",
        "115.64.0.0/16",
    ],
    "ZA": [
        "196.37.0.0/17",
        "197.156.0.0/18",
        "197.64.0.0/11",
        "41.208.0.0/18",
        "197.96.0.0/15",
        "163.195.0.0/16",
    ],
    "NG": [
        "41.75.80.0/20",
        "105.112.0.0/12",
        "102.88.0.0/13",
        "154.117.64.0/18",
        "102.68.104.0/21",
        "41.58.0.0/16",
    ],
    "RU": [
        "151.252.64.0/19",
        "217.29.48.0/20",
        "176.117.192.0/18",
        "91.105.128.0/18",
        "79.132.96.0/19",
        "128.68.0.0/14",
    ],
    "VN": [
        "42.112.0.0/13",
        "14.224.0.0/11",
        "14.160.0.0/12",
        "113.160.0.0/11",
        "116.96.0.0/12",
        "123.16.0.0/12",
    ],
    "ID": [
        "36.70.0.0/15",
        "39.192.0.0/10",
        "124.158.128.0/18",
        "114.3.0.0/16",
        "125.160.0.0/13",
        "36.68.128.0/18",
    ],
    "UA": [
        "95.132.0.0/14",
        "5.58.0.0/16",
        "185.70.16.0/22",
        "46.200.0.0/14",
        "95.164.40.0/22",
        "78.27.128.0/18",
    ],
    "RO": [
        "193.32.87.0/24",
        "185.8.152.0/22",
        "109.96.0.0/14",
        "79.112.0.0/14",
        "89.120.0.0/14",
        "82.76.0.0/14",
    ],
}

# Where each country's users are, for choosing "far away" and travel times: the same map scoring
# measures geo-velocity on (shared.geo.CAPITALS, the capital of each country the networks cover).
COUNTRY_LOCATIONS: dict[str, tuple[float, float]] = {
    country: CAPITALS[country] for country in COUNTRY_NETWORKS
}

# Where the marketplace's customers live (weights), and where fraud infrastructure tends to sit.
HOME_COUNTRY_WEIGHTS: dict[str, float] = {
    "US": 24, "GB": 12, "DE": 9, "FR": 7, "ES": 5, "IT": 5, "NL": 4, "SE": 2, "PL": 3, "BR": 5,
    "AR": 2, "MX": 3, "CA": 4, "JP": 3, "KR": 2, "SG": 1, "IN": 3, "AU": 3, "ZA": 1, "NG": 1,
    "RU": 0.5, "VN": 0.5, "ID": 1, "UA": 0.5, "RO": 0.5,
}  # fmt: skip
HOSTING_COUNTRIES = ("US", "NL", "DE", "SG", "GB")
RISKY_COUNTRIES = ("NG", "RU", "VN", "ID", "UA", "RO", "BR")

# Each network as (its first address as an int, its size): formatting an int is a fraction of what
# ipaddress' arithmetic costs, and a steady-state world draws tens of thousands of addresses.
_PARSED = {
    c: [(int(net.network_address), net.num_addresses) for net in map(ipaddress.IPv4Network, nets)]
    for c, nets in COUNTRY_NETWORKS.items()
}


def random_ip(rng: random.Random, country: str, network_index: int | None = None) -> str:
    """A host address (never the network or broadcast address) in one of `country`'s networks."""
    networks = _PARSED[country]
    first, size = networks[
        rng.randrange(len(networks)) if network_index is None else network_index % len(networks)
    ]
    host = first + 1 + rng.randrange(size - 2)
    return f"{host >> 24}.{host >> 16 & 255}.{host >> 8 & 255}.{host & 255}"


def distance_km(a: str, b: str) -> float:
    """Great-circle distance between two countries' capitals, as scoring measures it."""
    return great_circle_km(*COUNTRY_LOCATIONS[a], *COUNTRY_LOCATIONS[b])


def far_country(
    rng: random.Random, home: str, *, min_km: float = 3000, pool: tuple[str, ...] | None = None
) -> str:
    candidates = [
        c for c in (pool or tuple(COUNTRY_LOCATIONS)) if c != home and distance_km(home, c) >= min_km
    ]
    return rng.choice(candidates or [c for c in COUNTRY_LOCATIONS if c != home])


def discover_networks(seed: int = 20261124, per_country: int = 6) -> dict[str, list[str]]:
    """Rebuilds COUNTRY_NETWORKS from the installed geoip2fast database (about a second)."""
    from geoip2fast import GeoIP2Fast

    geo = GeoIP2Fast()
    rng = random.Random(seed)
    found: dict[str, list[ipaddress.IPv4Network]] = {c: [] for c in COUNTRY_LOCATIONS}
    for _ in range(3_000_000):
        if all(len(v) >= per_country for v in found.values()):
            break
        result = geo.lookup(str(ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24))))
        country = result.country_code
        if country not in found or len(found[country]) >= per_country:
            continue
        network = ipaddress.IPv4Network(result.cidr)
        if network.prefixlen > 24 or any(network.overlaps(n) for n in found[country]):
            continue
        probes = (1, network.num_addresses // 2, network.num_addresses - 2)
        if all(geo.lookup(str(network.network_address + k)).country_code == country for k in probes):
            found[country].append(network)
    return {c: [str(n) for n in nets] for c, nets in found.items()}
