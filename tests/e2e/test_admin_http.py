"""The admin surface over HTTP to the local gateway: the gateway checks the token as API Gateway's
Cognito authorizer does, and the admin function runs the same authorization as in AWS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pyotp
import pytest

from tests.fixtures.admin import SignIn
from tests.fixtures.api import Market, assert_matches_openapi
from tooling.cli import main
from tooling.local.issuer import LocalIssuer

SESSION = "/api/v1/admin/session"


@pytest.fixture
def http(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30) as session:
        yield session


def test_given_no_or_a_wrong_token_then_the_gateway_answers_401_before_the_function(
    http: httpx.Client, admin_token: SignIn
) -> None:
    token = admin_token("analyst")
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": token[:-6] + "AAAAAA"}):
        response = http.get(SESSION, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert_matches_openapi("GET", SESSION, response)


def test_given_an_analyst_without_mfa_then_403_mfa_required(http: httpx.Client, admin_token: SignIn) -> None:
    response = http.get(SESSION, headers={"Authorization": admin_token("analyst", mfa=False)})
    assert response.status_code == 403 and response.json()["error"]["code"] == "mfa_required"
    assert_matches_openapi("GET", SESSION, response)


def test_given_an_mfa_sign_in_through_the_local_pool_then_the_session_names_roles_and_permissions(
    http: httpx.Client, admin_issuer: LocalIssuer
) -> None:
    enrolment = admin_issuer.create_user("ann", ["auditor"])
    signed = http.post(
        "/local/admin/sign-in",
        json={
            "username": "ann",
            "password": enrolment.password,
            "code": pyotp.TOTP(str(enrolment.totp_secret)).now(),
        },
    )
    assert signed.status_code == 200, signed.text
    response = http.get(SESSION, headers={"Authorization": f"Bearer {signed.json()['IdToken']}"})
    assert response.status_code == 200, response.text
    assert_matches_openapi("GET", SESSION, response)
    assert response.json()["roles"] == ["auditor"] and response.json()["permissions"] == ["read"]
    refreshed = http.post("/local/admin/refresh", json={"refresh_token": signed.json()["RefreshToken"]})
    assert http.get(SESSION, headers={"Authorization": refreshed.json()["IdToken"]}).status_code == 200
    wrong = http.post("/local/admin/sign-in", json={"username": "ann", "password": "nope", "code": "123456"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"


# ----------------------------------------------------------------- the "done when", over HTTP
PREDICT = "/api/v1/ml/predict/fraud"


def _review_item(db: psycopg.Connection, txn: str, decision: str = "MANUAL_REVIEW") -> None:
    """A decision the scoring path stored (the review queue reads intel.fraud_predictions)."""
    db.execute(
        """INSERT INTO intel.fraud_predictions (transaction_id, wallet_address, ticket_id, price_paid, fraud_score,
               decision, confidence, features, top_features, model_version)
           VALUES (%s, %s, '1001', 80, 0.7, %s, 0.4, '{}', '[]', 'v-test')""",
        (txn, "0x" + "d4" * 20, decision),
    )


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def test_given_an_analyst_with_mfa_when_resolving_a_review_item_then_the_label_is_stored_and_audited(
    http: httpx.Client, admin_token: SignIn, db: psycopg.Connection
) -> None:
    # Given a MANUAL_REVIEW decision and a REQUIRE_2FA one in the queue
    _review_item(db, "txn-review-1")
    _review_item(db, "txn-review-2", "REQUIRE_2FA")
    analyst = _auth(admin_token("analyst"))
    queue = http.get("/api/v1/admin/review", headers=analyst)
    assert_matches_openapi("GET", "/api/v1/admin/review", queue)
    assert {item["transaction_id"] for item in queue.json()["items"]} == {"txn-review-1", "txn-review-2"}
    # When the analyst claims and resolves one as fraud
    claimed = http.post("/api/v1/admin/review/txn-review-1/claim", headers=analyst)
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "analyst-mfa", claimed.text
    resolved = http.post(
        "/api/v1/admin/review/txn-review-1/resolve",
        headers=analyst,
        json={"resolution": "fraud", "note": "ring"},
    )
    assert resolved.status_code == 200, resolved.text
    assert_matches_openapi("POST", "/api/v1/admin/review/{transaction_id}/resolve", resolved)
    # Then its label is stored where training and the KPIs read labels
    label = db.execute(
        "SELECT is_fraud, source FROM intel.fraud_labels WHERE transaction_id = 'txn-review-1'"
    ).fetchone()
    assert label == (True, "review")
    # And the audit row says who, in which role, what, on what, before/after, from where, in which request
    row = db.execute(
        """SELECT actor, role, target, before->'item'->>'status', after->'item'->>'resolution', source_ip, request_id
             FROM intel.audit_log WHERE action = 'review.resolve'"""
    ).fetchone()
    assert row == (
        "analyst-mfa", "analyst", "transaction:txn-review-1", "claimed", "fraud", "127.0.0.1",
        resolved.headers["x-amzn-requestid"],
    )  # fmt: skip
    # And a resolved item cannot be resolved again; the queue no longer lists it as open
    again = http.post(
        "/api/v1/admin/review/txn-review-1/resolve", headers=analyst, json={"resolution": "legitimate"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    open_items = http.get("/api/v1/admin/review", headers=analyst).json()["items"]
    assert [item["transaction_id"] for item in open_items] == ["txn-review-2"]


def test_given_an_admin_when_blocklisting_a_wallet_then_its_next_score_is_blocked(
    http: httpx.Client, admin_token: SignIn, api_market: Market, api_key: str
) -> None:
    purchase = {
        "wallet_address": api_market.honest_wallet,
        "ticket_id": api_market.ticket_ids[0],
        "price_paid": 80.0,
    }
    scoring = {"x-api-key": api_key}
    # Given the wallet scores as usual (and its not-blocked verdict is cached)
    first = http.post(PREDICT, headers=scoring, json={"transaction_id": "adm-bl-1", **purchase})
    assert first.status_code == 200 and first.json()["reason"] != "blocklist_wallet", first.text
    # When an admin blocklists it, with a reason and an expiry
    admin = _auth(admin_token("admin"))
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    added = http.post(
        "/api/v1/admin/blocklist",
        headers=admin,
        json={
            "kind": "wallet",
            "value": api_market.honest_wallet,
            "reason": "ring",
            "expires_at": expires,
        },
    )
    assert added.status_code == 201, added.text
    assert_matches_openapi("POST", "/api/v1/admin/blocklist", added)
    assert added.json()["source"] == "admin:admin-mfa"
    # Then its next purchase is BLOCKED, saying why
    second = http.post(PREDICT, headers=scoring, json={"transaction_id": "adm-bl-2", **purchase})
    assert second.json()["decision"] == "BLOCKED" and second.json()["reason"] == "blocklist_wallet"
    # And removing it lets the wallet through again
    removed = http.delete(
        "/api/v1/admin/blocklist", headers=admin, params={"kind": "wallet", "value": api_market.honest_wallet}
    )
    assert removed.status_code == 200, removed.text
    third = http.post(PREDICT, headers=scoring, json={"transaction_id": "adm-bl-3", **purchase})
    assert third.json()["reason"] != "blocklist_wallet"


WRITES = [
    ("POST", "/api/v1/admin/review/txn-a/claim", None),
    ("POST", "/api/v1/admin/review/txn-a/resolve", {"resolution": "fraud"}),
    (
        "POST",
        "/api/v1/admin/blocklist",
        {"kind": "ip", "value": "203.0.113.9", "reason": "x", "expires_at": None},
    ),
    ("DELETE", "/api/v1/admin/blocklist?kind=ip&value=203.0.113.9", None),
    ("POST", "/api/v1/admin/actions/1/undo", None),
    ("POST", "/api/v1/admin/models/rollback", {"reason": "x"}),
]


def test_given_an_auditor_then_it_reads_everything_and_changes_nothing(
    http: httpx.Client, admin_token: SignIn, db: psycopg.Connection
) -> None:
    _review_item(db, "txn-a")
    auditor = _auth(admin_token("auditor"))
    for path in ("/api/v1/admin/review", "/api/v1/admin/blocklist", "/api/v1/admin/findings", "/api/v1/admin/actions",
                 "/api/v1/admin/audit", "/api/v1/admin/audit/verify"):  # fmt: skip
        response = http.get(path, headers=auditor)
        assert response.status_code == 200, (path, response.text)
        assert_matches_openapi("GET", path, response)
    for method, path, body in WRITES:
        response = http.request(method, path, headers=auditor, json=body)
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden", (method, path)
    labels = http.post(
        "/api/v1/admin/labels",
        headers={**auditor, "Content-Type": "text/csv"},
        content=b"transaction_id\ntxn-a\n",
    )
    assert labels.status_code == 403
    # Nothing changed, and each refusal is on the audit log
    assert db.execute("SELECT count(*) FROM intel.review_items").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM intel.blocklist").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM intel.fraud_labels").fetchone() == (0,)
    denied = db.execute(
        "SELECT count(*) FROM intel.audit_log WHERE actor = 'auditor-mfa' AND details->>'outcome' = 'denied'"
    ).fetchone()
    assert denied == (len(WRITES) + 1,)


def test_given_an_audit_row_edited_by_hand_then_audit_verify_catches_it(
    http: httpx.Client, admin_token: SignIn, db: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a few audited admin calls
    analyst = _auth(admin_token("analyst"))
    for _ in range(3):
        assert http.get("/api/v1/admin/review", headers=analyst).status_code == 200
    assert main(["audit", "verify"]) == 0
    # When someone with the owner's powers rewrites one (the table itself refuses an UPDATE)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("UPDATE intel.audit_log SET actor = 'someone-else' WHERE chain_seq = 2")
    db.execute("ALTER TABLE intel.audit_log DISABLE TRIGGER audit_log_no_update")
    db.execute("UPDATE intel.audit_log SET actor = 'someone-else' WHERE chain_seq = 2")
    db.execute("ALTER TABLE intel.audit_log ENABLE TRIGGER audit_log_no_update")
    # Then ticketguard audit verify fails naming the row, and so does the admin route
    capsys.readouterr()
    assert main(["audit", "verify"]) == 1
    assert "seq 2" in capsys.readouterr().out
    report = http.get("/api/v1/admin/audit/verify", headers=analyst).json()
    assert report["ok"] is False and report["problems"][0].startswith("seq 2 ")


def test_given_a_csv_of_chargebacks_then_valid_rows_are_labels_and_bad_rows_are_named(
    http: httpx.Client, admin_token: SignIn, db: psycopg.Connection
) -> None:
    _review_item(db, "txn-cb-1")
    _review_item(db, "txn-cb-2")
    csv_body = (
        "transaction_id,labelled_at,is_fraud\n"
        "txn-cb-1,2026-11-20T10:00:00Z,true\n"
        "txn-unknown,2026-11-20T10:00:00Z,true\n"
        "txn-cb-2,yesterday,true\n"
        "txn-cb-1,2026-11-21T10:00:00Z,false\n"
    )
    response = http.post(
        "/api/v1/admin/labels",
        headers={**_auth(admin_token("analyst")), "Content-Type": "text/csv"},
        content=csv_body,
    )
    assert response.status_code == 200, response.text
    assert_matches_openapi("POST", "/api/v1/admin/labels", response)
    report = response.json()
    assert (report["rows"], report["stored"]) == (4, 1)
    assert [(r["line"], r["reason"].split(":")[0]) for r in report["rejected"]] == [
        (3, "transaction_id"), (4, "Invalid isoformat string"), (5, "transaction_id"),
    ]  # fmt: skip
    assert db.execute("SELECT transaction_id, is_fraud, source FROM intel.fraud_labels").fetchall() == [
        ("txn-cb-1", True, "chargeback")
    ]
