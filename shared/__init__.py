"""TicketGuard domain package: every Lambda function and the local runner import from here."""
