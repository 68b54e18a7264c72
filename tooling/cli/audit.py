"""`ticketguard audit verify`: recompute the audit log's hash chain (intel.audit_log) and name every
row that was changed, removed or slipped in. Exit 0 when the chain holds, 1 when it does not.

    ticketguard audit verify            # DATABASE_DIRECT_URL (else DATABASE_URL)
    ticketguard audit verify --json
"""

from __future__ import annotations

import argparse

from shared.audit.log import verify
from shared.db.connection import connect


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard audit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute the hash chain; exit 1 if it is broken")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    with connect() as conn:
        report = verify(conn)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        state = "intact" if report.ok else "BROKEN"
        print(
            f"audit chain {state}: {report.rows} rows checked (seq {report.anchor_seq + 1}..{report.head_seq}; "
            f"rows up to seq {report.anchor_seq} archived), head {report.head_hash[:16]}"
        )
        for problem in report.problems:
            print(f"  - {problem}")
    return 0 if report.ok else 1
