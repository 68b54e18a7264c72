"""Retention's pure parts: the spec 2.1 table, the shredding of personal fields, the archive codec,
the local store, the Lambda's continuation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.errors import ConfigurationError
from shared.jobs.rounds import next_round, round_of, run_rounds
from shared.retention import codec
from shared.retention.policy import (
    ARCHIVED,
    AUDIT_LOGS,
    ML_PREDICTIONS,
    POLICIES,
    TRANSACTION_LOGS,
    USER_SESSIONS,
)
from shared.retention.shred import PREFIX, SubjectKeys, key_id_of
from shared.retention.store import LocalStore, RetentionSettings, S3Store, stores_from_settings

KEY = bytes(range(32))


def test_given_spec_2_1_then_each_data_type_has_its_hot_and_total_ages() -> None:
    assert (TRANSACTION_LOGS.hot_days, TRANSACTION_LOGS.hot_days + TRANSACTION_LOGS.archive_days) == (90, 730)
    assert (ML_PREDICTIONS.hot_days, ML_PREDICTIONS.hot_days + ML_PREDICTIONS.archive_days) == (180, 5 * 365)
    assert (AUDIT_LOGS.hot_days, AUDIT_LOGS.hot_days + AUDIT_LOGS.archive_days) == (365, 7 * 365)
    assert (USER_SESSIONS.hot_days, USER_SESSIONS.archived) == (30, False)
    assert {p.table for p in POLICIES if p.data_type is USER_SESSIONS} == {
        "marketplace.sessions",
        "intel.sessions",
    }
    for policy in ARCHIVED:
        names = [name for name, _ in policy.columns]
        assert (
            set(policy.personal) <= set(names) and policy.key_column in names and policy.time_column in names
        )
        assert not policy.manifest_prefix.startswith(policy.location)  # Athena must not read manifests


def test_given_subject_keys_when_a_key_is_gone_then_its_fields_cannot_be_read() -> None:
    keys = SubjectKeys({"user:1": ("k-1", KEY), "user:2": ("k-2", bytes(32))})
    value = keys.encrypt("user:1", "t.c", "secret")
    assert value.startswith(PREFIX) and key_id_of(value) == "k-1" and "secret" not in value
    assert keys.decrypt("t.c", value) == "secret"
    shredded = SubjectKeys({"user:2": ("k-2", bytes(32))})
    assert shredded.decrypt("t.c", value) is None
    payload = value.rsplit(":", 1)[1]
    assert len(base64.urlsafe_b64decode(payload)) == 16 + len("secret")


def test_given_rows_then_the_archive_object_is_deterministic_gzip_json_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [(1, "a", None, 2.5), (2, "b", True, None)]
    names = ["id", "s", "flag", "x"]
    first = codec.compress(b"".join(codec.line(names, row) for row in rows))  # as batch.encode writes
    # A rewrite runs later (the next week's run, another process): the same bytes, no time inside
    monkeypatch.setattr("time.time", lambda: 2_000_000_000.0)
    assert first == codec.compress(b"".join(codec.line(names, row) for row in rows))
    assert first[4:8] == b"\0\0\0\0"  # gzip's MTIME field
    content, count = codec.read_lines(first)
    assert count == 2 and codec.parse(first)[1] == {"id": 2, "s": "b", "flag": True, "x": None}
    assert content.endswith(b"\n")
    assert codec.plain(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02 03:04:05.000006"
    assert codec.plain({"b": 1, "a": [1]}) == '{"a":[1],"b":1}'


def test_given_a_local_store_then_keys_are_files_under_its_root_and_cannot_leave_it(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    store.put("transaction-logs/t/dt=2026-01-01/part-1.jsonl.gz", b"x", content_type="x")
    assert list(store.keys("transaction-logs/")) == ["transaction-logs/t/dt=2026-01-01/part-1.jsonl.gz"]
    assert store.get("transaction-logs/t/dt=2026-01-01/part-1.jsonl.gz") == b"x"
    with pytest.raises(ValueError, match="leaves the archive root"):
        store.put("../outside", b"x", content_type="x")


def test_given_a_deployed_function_without_a_bucket_then_it_refuses_to_archive_locally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "retention")
    with pytest.raises(ConfigurationError, match="TG_ARCHIVE_BUCKET"):
        stores_from_settings(RetentionSettings())
    with pytest.raises(ConfigurationError, match="both"):
        stores_from_settings(RetentionSettings(archive_bucket="a"))


def test_given_an_unfinished_round_then_the_next_carries_the_same_as_of_up_to_the_cap() -> None:
    as_of = datetime(2026, 6, 7, 3, 0, tzinfo=UTC)
    # Given rounds of a run capped at 3: the first two ask for the next, the third stops
    answers = [next_round(complete=False, as_of=as_of, round_number=n, max_rounds=3) for n in (1, 2, 3)]
    assert [a["continue"] for a in answers] == [True, True, False]
    assert [a["next"] for a in answers] == [
        {"as_of": as_of.isoformat(), "round": 2},
        {"as_of": as_of.isoformat(), "round": 3},
        None,
    ]
    # and a complete round never asks for another
    assert next_round(complete=True, as_of=as_of, round_number=1, max_rounds=3)["continue"] is False


@pytest.mark.parametrize("event", [{"round": 0}, {"round": "2"}, {"round": True}, {"round": 1.5}])
def test_given_a_round_that_is_not_a_whole_number_from_1_then_it_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="round"):
        round_of(event)


def test_given_answers_when_the_loop_runs_then_it_invokes_with_each_next_until_one_does_not_continue() -> (
    None
):
    # Given a job that needs 25 rounds (past Lambda's ~16-invocation recursive-loop cut-off)
    calls: list[dict[str, Any]] = []
    as_of = datetime(2026, 6, 7, 3, 0, tzinfo=UTC)

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event)
        number = round_of(event)
        return next_round(complete=number == 25, as_of=as_of, round_number=number, max_rounds=96)

    answers = run_rounds(invoke, {"scheduled_at": as_of.isoformat()})
    # Then it is invoked 25 times, each later round with the same as_of and the next number
    assert len(answers) == len(calls) == 25
    assert calls[1:] == [{"as_of": as_of.isoformat(), "round": n} for n in range(2, 26)]


class FakeS3:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def put_object(self, **kwargs: Any) -> None:
        self.puts.append(kwargs)


def test_given_the_audit_store_when_it_writes_then_s3_gets_a_checksum_and_a_compliance_lock() -> None:
    # Given S3's rule: a PUT into an Object Lock bucket is refused without an integrity checksum
    # (moto does not enforce it, so the integration tests cannot hold it)
    client = FakeS3()
    S3Store("audit", client=client, lock_days=2190).put("audit-logs/a", b"x", content_type="t")
    S3Store("archive", client=client).put("transaction-logs/b", b"y", content_type="t")
    # Then every PUT carries a checksum; the audit one its lock until `lock_days` after the upload
    assert [p["ChecksumAlgorithm"] for p in client.puts] == ["SHA256", "SHA256"]
    locked, plain = client.puts
    assert locked["ObjectLockMode"] == "COMPLIANCE"
    assert locked["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=2189)
    assert "ObjectLockMode" not in plain and "ObjectLockRetainUntilDate" not in plain
