"""The SOAR: automated responses to the SIEM's findings (`responses`), their guardrails (`guardrails`),
the effectors on AWS (`aws`: WAF IP sets, SNS pages, Cognito) and the stores (`blocklist`: the
service's own wallet/IP/challenge list; `actions`: every action, recorded and undoable). See docs/siem.md."""
