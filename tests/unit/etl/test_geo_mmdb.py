"""A configured MaxMind database (TG_GEOIP_DB_PATH) is read with maxminddb and gives city-level
coordinates. The test writes a tiny GeoIP2-City-shaped .mmdb (format spec:
https://maxmind.github.io/MaxMind-DB/) holding one network."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.geo import UNKNOWN, Geolocator


def _ctrl(kind: int, size: int) -> bytes:
    if kind <= 7:
        return bytes([(kind << 5) | size])
    return bytes([size, kind - 7])  # extended type


def _enc(value: object) -> bytes:
    if isinstance(value, str):
        raw = value.encode()
        return _ctrl(2, len(raw)) + raw
    if isinstance(value, float):
        return _ctrl(3, 8) + struct.pack(">d", value)
    if isinstance(value, dict):
        return _ctrl(7, len(value)) + b"".join(_enc(k) + _enc(v) for k, v in value.items())
    if isinstance(value, list):
        return _ctrl(11, len(value)) + b"".join(_enc(v) for v in value)
    if isinstance(value, tuple):  # (kind, int): uint16 = 5, uint32 = 6, uint64 = 9
        kind, number = value
        raw = number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big") if number else b""
        return _ctrl(kind, len(raw)) + raw
    raise TypeError(value)


def write_mmdb(path: Path, network: str, record: dict[str, object]) -> None:
    net = ipaddress.ip_network(network)
    bits = format(int(net.network_address), "032b")[: net.prefixlen]
    node_count = len(bits)
    data = _enc(record)
    data_pointer = node_count + 16  # data offset 0
    tree = b""
    for depth, bit in enumerate(bits):
        follow = data_pointer if depth == node_count - 1 else depth + 1
        left, right = (follow, node_count) if bit == "0" else (node_count, follow)
        tree += left.to_bytes(3, "big") + right.to_bytes(3, "big")
    metadata = _enc(
        {
            "node_count": (6, node_count),
            "record_size": (5, 24),
            "ip_version": (5, 4),
            "database_type": "GeoIP2-City",
            "languages": ["en"],
            "binary_format_major_version": (5, 2),
            "binary_format_minor_version": (5, 0),
            "build_epoch": (9, 1_700_000_000),
            "description": {"en": "ticketguard test"},
        }
    )
    path.write_bytes(tree + bytes(16) + data + b"\xab\xcd\xefMaxMind.com" + metadata)


def test_configured_mmdb_gives_city_coordinates(tmp_path: Path) -> None:
    # Given a City database that places 81.2.69.0/24 in Manchester
    db = tmp_path / "city.mmdb"
    write_mmdb(
        db,
        "81.2.69.0/24",
        {"country": {"iso_code": "GB"}, "location": {"latitude": 53.48, "longitude": -2.24}},
    )
    geo = Geolocator(str(db))
    # When addresses are located
    inside, outside = geo.locate("81.2.69.160"), geo.locate("8.8.8.8")
    # Then the city's coordinates come back (not London's), and an unknown address is unknown
    assert (inside.country, inside.lat, inside.lon) == ("GB", 53.48, -2.24)
    assert outside == UNKNOWN


def test_a_missing_mmdb_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot open GeoIP database"):
        Geolocator(str(tmp_path / "missing.mmdb"))
