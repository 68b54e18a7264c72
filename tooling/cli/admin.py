"""`ticketguard admin`: the local admin user pool (tooling/local/issuer.py).

    ticketguard admin create-user alice --role analyst      # prints the password and the TOTP secret
    ticketguard admin sign-in alice --password P --code 123456   # prints the tokens (JSON)
    ticketguard admin refresh REFRESH_TOKEN

In AWS the admins' Cognito pool holds the users (an operator creates them with
`aws cognito-idp admin-create-user` and each enrols TOTP at first sign-in); these commands manage the
local pool that `make run` verifies tokens against (TG_LOCAL_ADMIN_DIR, default ~/.ticketguard/admin).
"""

from __future__ import annotations

import argparse
import json

from shared.admin.auth import Role
from tooling.local.issuer import LocalIssuer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketguard admin", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="enrol a local admin user (prints its TOTP secret)")
    create.add_argument("username")
    create.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    create.add_argument("--password", help="default: a generated one, printed")
    create.add_argument("--no-mfa", action="store_true", help="no TOTP enrolment (its tokens lack MFA)")
    sign_in = commands.add_parser("sign-in", help="sign in; prints the ID, access and refresh tokens")
    sign_in.add_argument("username")
    sign_in.add_argument("--password", required=True)
    sign_in.add_argument("--code", help="the current TOTP code")
    refresh = commands.add_parser("refresh", help="new ID and access tokens from a refresh token")
    refresh.add_argument("refresh_token")
    return parser


def cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    issuer = LocalIssuer()
    if args.command == "create-user":
        enrolment = issuer.create_user(args.username, args.role, password=args.password, mfa=not args.no_mfa)
        print(f"user:        {enrolment.username} (groups: {', '.join(enrolment.groups)})")
        print(f"password:    {enrolment.password}")
        print(f"totp secret: {enrolment.totp_secret or '(none: enrolled without MFA)'}")
        if enrolment.otpauth_uri:
            print(f"otpauth uri: {enrolment.otpauth_uri}")
        return 0
    if args.command == "sign-in":
        print(json.dumps(issuer.sign_in(args.username, args.password, args.code), indent=2))
        return 0
    print(json.dumps(issuer.refresh(args.refresh_token), indent=2))
    return 0
