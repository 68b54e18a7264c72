"""Units of the ETL room that need no server: ABI fragments, decoding, PageRank, geo, formulas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import pytest
from eth_abi import encode

from shared.etl.abi import EVENT_SIGNATURES, IgnoredLog, UndecodableLog, abi_fragments, decode_log, topic0
from shared.features import formulas
from shared.features.pagerank import pagerank
from shared.geo import UNKNOWN, Geolocator, great_circle_km

T = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_fragments_match_the_compiled_contract(contract_artifacts: Path) -> None:
    artifact = json.loads((contract_artifacts / "TicketMarket.json").read_text())
    compiled = {e["name"]: e for e in artifact["abi"] if e["type"] == "event"}
    for fragment in abi_fragments():
        theirs = compiled[fragment["name"]]
        assert [(i["name"], i["type"], i["indexed"]) for i in theirs["inputs"]] == [
            (i["name"], i["type"], i["indexed"]) for i in fragment["inputs"]
        ]


def test_decode_matches_a_general_abi_encoder() -> None:
    seller, buyer = "0x" + "11" * 20, "0x" + "22" * 20
    topics = [
        topic0("Resale", EVENT_SIGNATURES["Resale"]),
        (7).to_bytes(32, "big"),
        bytes(12) + bytes.fromhex(seller[2:]),
        bytes(12) + bytes.fromhex(buyer[2:]),
    ]
    decoded = decode_log(topics, encode(["uint256"], [123 * 10**15]))
    assert decoded.name == "Resale"
    assert decoded.args == {"tokenId": 7, "seller": seller, "buyer": buyer, "priceWei": 123 * 10**15}
    created = decode_log(
        [topic0("EventCreated", EVENT_SIGNATURES["EventCreated"]), (3).to_bytes(32, "big")],
        encode(["uint32", "uint256", "address"], [500, 10**16, seller]),
    )
    assert created.args == {"eventId": 3, "capacity": 500, "faceValueWei": 10**16, "organizer": seller}


def test_bad_logs_raise_named_errors() -> None:
    listed = topic0("Listed", EVENT_SIGNATURES["Listed"])
    with pytest.raises(UndecodableLog, match="unknown event signature"):
        decode_log([b"\x01" * 32], b"")
    with pytest.raises(UndecodableLog, match="topics"):
        decode_log([listed], b"\x00" * 32)
    with pytest.raises(UndecodableLog, match="data bytes"):
        decode_log([listed, bytes(32), bytes(32)], b"\x00")
    with pytest.raises(UndecodableLog, match="padding"):
        decode_log([listed, bytes(32), b"\x01" * 32], bytes(32))
    from eth_utils import keccak

    with pytest.raises(IgnoredLog):
        decode_log([keccak(text="Withdrawal(address,uint256)"), bytes(32)], bytes(32))


def test_pagerank_matches_networkx_on_a_weighted_graph_with_dangling_nodes() -> None:
    edges = [
        ("a", "b", 2.0),
        ("b", "c", 1.0),
        ("c", "a", 1.0),
        ("a", "d", 1.0),
        ("e", "a", 3.0),
        ("b", "f", 1.0),
    ]
    graph = nx.DiGraph()
    for src, dst, w in edges:
        graph.add_edge(src, dst, weight=w)
    expected = nx.pagerank(graph, alpha=0.85, weight="weight", tol=1e-12, max_iter=1000)
    ours = pagerank(edges)
    assert ours.keys() == expected.keys()
    for node, rank in expected.items():
        assert ours[node] == pytest.approx(rank, rel=1e-8)
    assert sum(ours.values()) == pytest.approx(1.0)
    assert pagerank([]) == {}


def test_geolocation_is_offline_and_never_fails() -> None:
    geo = Geolocator()
    assert geo.locate("8.8.8.8").country == "US"
    assert geo.locate("10.0.0.1") == UNKNOWN  # private
    assert geo.locate("not an ip") == UNKNOWN
    assert geo.locate(None) == UNKNOWN
    assert great_circle_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.5, abs=1.0)  # London-Paris


def test_formulas_edge_cases() -> None:
    assert formulas.wallet_age_days(None, T) == 0.0
    assert formulas.wallet_age_days(T + timedelta(days=1), T) == 0.0
    assert formulas.wallet_age_days(T - timedelta(hours=36), T) == 1.5
    assert formulas.price_deviation_ratio(60, None, 50) == pytest.approx(0.2)
    assert formulas.price_deviation_ratio(60, 40, 50) == pytest.approx(0.5)
    assert formulas.price_deviation_ratio(60, None, 0) is None
    assert formulas.event_popularity_score(30, 10, 0, 0) == 0.5  # sell-through capped at 1
    assert formulas.event_popularity_score(0, 10, 2, 4) == 0.25
    london, paris = (51.5074, -0.1278), (48.8566, 2.3522)
    assert (
        formulas.geo_velocity_flag((*london, T - timedelta(minutes=10)), *paris, T) == 1.0
    )  # 343 km in 10 min
    assert formulas.geo_velocity_flag((*london, T - timedelta(hours=1)), *paris, T) == 0.0  # 343 km/h
    assert formulas.geo_velocity_flag((*london, T), 51.6, -0.2, T) == 0.0  # under 100 km
    assert formulas.geo_velocity_flag((*london, T), *paris, T) == 1.0  # same instant, far apart
    assert formulas.geo_velocity_flag(None, *paris, T) == 0.0
    assert formulas.geo_velocity_flag((*london, T), None, None, T) == 0.0
