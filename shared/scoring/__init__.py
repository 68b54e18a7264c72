"""Fraud scoring: request -> blocklist -> features -> model -> decision -> stored prediction."""
