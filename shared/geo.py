"""IP geolocation from an offline database: no network call at run time.

Default: `geoip2fast`, which ships its database inside the package but resolves IPs to a country
only (no city data). Geo-velocity (feature 7) needs coordinates, so a country resolves to the
coordinates of its capital from the table below; two requests from the same country are then
0 km apart, which can only under-report geo-velocity (never a false flag from coarse data).
When `TG_GEOIP_DB_PATH` names a MaxMind GeoLite2/GeoIP2 City `.mmdb` file, it is read with
`maxminddb` (if installed) and gives city-level coordinates instead.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.errors import ConfigurationError

EARTH_RADIUS_KM = 6371.0088

# ISO 3166-1 alpha-2 -> (latitude, longitude) of the capital city.
CAPITALS: dict[str, tuple[float, float]] = {
    "AE": (24.4539, 54.3773),
    "AR": (-34.6037, -58.3816),
    "AT": (48.2082, 16.3738),
    "AU": (-35.2809, 149.1300),
    "BD": (23.8103, 90.4125),
    "BE": (50.8503, 4.3517),
    "BG": (42.6977, 23.3219),
    "BR": (-15.7939, -47.8828),
    "BY": (53.9006, 27.5590),
    "CA": (45.4215, -75.6972),
    "CH": (46.9480, 7.4474),
    "CL": (-33.4489, -70.6693),
    "CN": (39.9042, 116.4074),
    "CO": (4.7110, -74.0721),
    "CR": (9.9281, -84.0907),
    "CY": (35.1856, 33.3823),
    "CZ": (50.0755, 14.4378),
    "DE": (52.5200, 13.4050),
    "DK": (55.6761, 12.5683),
    "DZ": (36.7538, 3.0588),
    "EC": (-0.1807, -78.4678),
    "EE": (59.4370, 24.7536),
    "EG": (30.0444, 31.2357),
    "ES": (40.4168, -3.7038),
    "FI": (60.1699, 24.9384),
    "FR": (48.8566, 2.3522),
    "GB": (51.5074, -0.1278),
    "GH": (5.6037, -0.1870),
    "GR": (37.9838, 23.7275),
    "HK": (22.3193, 114.1694),
    "HR": (45.8150, 15.9819),
    "HU": (47.4979, 19.0402),
    "ID": (-6.2088, 106.8456),
    "IE": (53.3498, -6.2603),
    "IL": (31.7683, 35.2137),
    "IN": (28.6139, 77.2090),
    "IQ": (33.3152, 44.3661),
    "IR": (35.6892, 51.3890),
    "IS": (64.1466, -21.9426),
    "IT": (41.9028, 12.4964),
    "JO": (31.9454, 35.9284),
    "JP": (35.6762, 139.6503),
    "KE": (-1.2921, 36.8219),
    "KR": (37.5665, 126.9780),
    "KW": (29.3759, 47.9774),
    "KZ": (51.1694, 71.4491),
    "LB": (33.8938, 35.5018),
    "LK": (6.9271, 79.8612),
    "LT": (54.6872, 25.2797),
    "LU": (49.6116, 6.1319),
    "LV": (56.9496, 24.1052),
    "MA": (34.0209, -6.8416),
    "MX": (19.4326, -99.1332),
    "MY": (3.1390, 101.6869),
    "NG": (9.0765, 7.3986),
    "NL": (52.3676, 4.9041),
    "NO": (59.9139, 10.7522),
    "NZ": (-41.2865, 174.7762),
    "PA": (8.9824, -79.5199),
    "PE": (-12.0464, -77.0428),
    "PH": (14.5995, 120.9842),
    "PK": (33.6844, 73.0479),
    "PL": (52.2297, 21.0122),
    "PT": (38.7223, -9.1393),
    "QA": (25.2854, 51.5310),
    "RO": (44.4268, 26.1025),
    "RS": (44.7866, 20.4489),
    "RU": (55.7558, 37.6173),
    "SA": (24.7136, 46.6753),
    "SE": (59.3293, 18.0686),
    "SG": (1.3521, 103.8198),
    "SI": (46.0569, 14.5058),
    "SK": (48.1486, 17.1077),
    "TH": (13.7563, 100.5018),
    "TN": (36.8065, 10.1815),
    "TR": (39.9334, 32.8597),
    "TW": (25.0330, 121.5654),
    "UA": (50.4501, 30.5234),
    "US": (38.9072, -77.0369),
    "UY": (-34.9011, -56.1645),
    "VE": (10.4806, -66.9036),
    "VN": (21.0278, 105.8342),
    "ZA": (-25.7479, 28.2293),
    "NP": (27.7172, 85.3240),
    "ET": (9.0054, 38.7636),
    "TZ": (-6.7924, 39.2083),
    "UG": (0.3476, 32.5825),
    "SN": (14.7167, -17.4677),
    "CI": (5.3600, -4.0083),
    "CM": (3.8480, 11.5021),
    "GT": (14.6349, -90.5069),
    "DO": (18.4861, -69.9312),
    "BO": (-16.4897, -68.1193),
    "PY": (-25.2637, -57.5759),
    "MT": (35.8989, 14.5146),
    "GE": (41.7151, 44.8271),
    "AM": (40.1792, 44.4991),
    "AZ": (40.4093, 49.8671),
    "UZ": (41.2995, 69.2401),
    "MN": (47.8864, 106.9057),
    "KH": (11.5564, 104.9282),
    "MM": (19.7633, 96.0785),
    "BH": (26.2285, 50.5860),
    "OM": (23.5880, 58.3829),
    "MD": (47.0105, 28.8638),
    "BA": (43.8563, 18.4131),
    "MK": (41.9981, 21.4254),
    "AL": (41.3275, 19.8187),
}


@dataclass(frozen=True, slots=True)
class GeoPoint:
    country: str | None
    lat: float | None
    lon: float | None

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None


UNKNOWN = GeoPoint(None, None, None)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on the mean Earth sphere."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class Geolocator:
    """IP -> GeoPoint; private, reserved and unknown addresses give UNKNOWN (never an error)."""

    def __init__(self, mmdb_path: str | None = None) -> None:
        self._mmdb: Any = None
        self._fast: Any = None
        if mmdb_path:
            try:
                import maxminddb
            except ImportError as exc:
                raise ConfigurationError(
                    "TG_GEOIP_DB_PATH is set but the maxminddb package is not installed"
                ) from exc
            try:
                self._mmdb = maxminddb.open_database(mmdb_path)
            except (OSError, ValueError) as exc:
                raise ConfigurationError(f"cannot open GeoIP database {mmdb_path}: {exc}") from exc
        else:
            from geoip2fast import GeoIP2Fast

            self._fast = GeoIP2Fast(verbose=False)
        self._cache: dict[str, GeoPoint] = {}

    def locate(self, ip: str | None) -> GeoPoint:
        if not ip:
            return UNKNOWN
        cached = self._cache.get(ip)
        if cached is not None:
            return cached
        point = self._lookup(ip)
        if len(self._cache) < 1_000_000:
            self._cache[ip] = point
        return point

    def _lookup(self, ip: str) -> GeoPoint:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return UNKNOWN
        if not address.is_global:
            return UNKNOWN
        if self._mmdb is not None:
            record = self._mmdb.get(str(address)) or {}
            country = (record.get("country") or {}).get("iso_code")
            location = record.get("location") or {}
            lat, lon = location.get("latitude"), location.get("longitude")
            if lat is None or lon is None:
                lat, lon = CAPITALS.get(country, (None, None)) if country else (None, None)
            return GeoPoint(country, lat, lon)
        result = self._fast.lookup(str(address))
        country = getattr(result, "country_code", "") or ""
        if len(country) != 2 or not country.isalpha() or getattr(result, "is_private", False):
            return UNKNOWN
        lat, lon = CAPITALS.get(country, (None, None))
        return GeoPoint(country, lat, lon)


@lru_cache(maxsize=4)
def get_geolocator(mmdb_path: str | None = None) -> Geolocator:
    return Geolocator(mmdb_path)


def default_geolocator() -> Geolocator:
    from shared.config import get_settings

    return get_geolocator(get_settings().geoip_db_path)
