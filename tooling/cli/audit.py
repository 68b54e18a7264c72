"""`ticketguard audit verify`: recompute the audit log's hash chain (intel.audit_log) and name every
row that was changed, removed or slipped in. Exit 0 when the chain holds, 1 when it does not.

    ticketguard audit verify            # DATABASE_DIRECT_URL (else DATABASE_URL)
    ticketguard audit verify --json
    ticketguard audit verify --anchor-parameter /ticketguard/prod/audit/chain-head

With an anchor (TG_AUDIT_ANCHOR_PARAMETER, or --anchor-parameter: the SSM parameter the SIEM's poll
writes, shared/audit/anchor.py), the chain must also still hold the head stored there: rows cut from
its end, with the database's own head set back, are caught too.
"""

from __future__ import annotations

import argparse

from shared.audit.anchor import read_anchor
from shared.audit.log import verify
from shared.db.connection import connect


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ticketguard audit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute the hash chain; exit 1 if it is broken")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--anchor-parameter",
        default=None,
        help="the SSM parameter holding the anchored head (default: TG_AUDIT_ANCHOR_PARAMETER; none: no anchor)",
    )
    args = parser.parse_args(argv)
    anchor = read_anchor(args.anchor_parameter)
    with connect() as conn:
        report = verify(conn, anchor=anchor)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        state = "intact" if report.ok else "BROKEN"
        print(
            f"audit chain {state}: {report.rows} rows checked (seq {report.anchor_seq + 1}..{report.head_seq}; "
            f"rows up to seq {report.anchor_seq} archived), head {report.head_hash[:16]}"
        )
        if report.anchored_seq is not None:
            print(f"  anchored outside the database: seq {report.anchored_seq} at {report.anchored_at}")
        for problem in report.problems:
            print(f"  - {problem}")
    return 0 if report.ok else 1
