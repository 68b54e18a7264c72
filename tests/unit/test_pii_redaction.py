"""The one PII filter: emails, IPs and wallets never reach a log line in clear."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from shared.observability import logger
from shared.observability.pii import pseudonym, redact

WALLET = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"


@pytest.mark.parametrize(
    "secret",
    ["alice@example.com", "203.0.113.7", "2001:db8::8a2e:370:7334", WALLET, WALLET.lower()],
)
def test_given_text_with_personal_value_when_redacted_then_value_is_gone(secret: str) -> None:
    # Given a message that carries a personal value
    message = f"buyer {secret} tried again"
    # When it is redacted
    cleaned = redact(message)
    # Then the value is gone and a stable pseudonym stands in its place
    assert secret not in cleaned
    assert cleaned == redact(message)
    assert cleaned.startswith("buyer <") and cleaned.endswith("> tried again")


def test_given_same_wallet_in_two_spellings_when_pseudonymised_then_same_token() -> None:
    # Given/When the checksummed and lowercase spellings, Then an investigator can still correlate them
    assert pseudonym("wallet", WALLET) == pseudonym("wallet", WALLET.lower())


def test_given_logger_when_it_logs_personal_data_then_captured_output_is_clean() -> None:
    # Given the shared logger writing to a buffer we can read
    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        # When it logs an email, an IP and a wallet in the message and in extra keys
        logger.info("login from alice@example.com at 198.51.100.23", extra={"wallet": WALLET})
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    # Then the JSON line holds none of them
    line = buffer.getvalue().strip().splitlines()[-1]
    record = json.loads(line)
    assert "alice@example.com" not in line and "198.51.100.23" not in line and WALLET not in line
    assert record["wallet"].startswith("<wallet:")


def test_given_the_salt_changes_when_a_wallet_is_pseudonymised_again_then_the_new_salt_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a wallet's pseudonym under one salt (remembered by the memo since issue 29)
    from shared.config import get_settings

    monkeypatch.setenv("TG_LOG_PII_SALT", "first-salt-0123456789abcdef")
    get_settings.cache_clear()
    try:
        first = pseudonym("wallet", WALLET)
        # When the salt changes and the same wallet is pseudonymised again
        monkeypatch.setenv("TG_LOG_PII_SALT", "second-salt-0123456789abcdef")
        get_settings.cache_clear()
        second = pseudonym("wallet", WALLET)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    # Then the new salt decides, exactly as an uncached SHA-256 of salt and value would
    digest = hashlib.sha256(f"second-salt-0123456789abcdef:{WALLET.lower()}".encode()).hexdigest()
    assert second == f"<wallet:{digest[:10]}>" != first


def test_given_a_line_without_an_at_sign_when_redacted_then_its_other_values_still_are() -> None:
    # Given a line with an IP and a wallet but no email (the email scan is skipped for it)
    line = f'{{"client_ip": "203.0.113.9", "wallet": "{WALLET}", "note": "none"}}'
    # When it is redacted
    cleaned = redact(line)
    # Then the IP and the wallet are gone all the same
    assert "203.0.113.9" not in cleaned and WALLET not in cleaned
    assert cleaned.count("<ip:") == 1 and cleaned.count("<wallet:") == 1
