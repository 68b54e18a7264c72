"""The one PII filter: emails, IPs and wallets never reach a log line in clear."""

from __future__ import annotations

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
