"""Domain exceptions. Handlers never pick status codes themselves: `shared.api.errors` maps these once."""

from __future__ import annotations


class TicketGuardError(Exception):
    """Base of every error we raise on purpose; `code` is the stable machine-readable name."""

    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigurationError(TicketGuardError):
    code = "configuration_error"


class ValidationFailed(TicketGuardError):
    code = "validation_error"


class NotFound(TicketGuardError):
    code = "not_found"


class Conflict(TicketGuardError):
    code = "conflict"


class RateLimited(TicketGuardError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s


class Unauthorized(TicketGuardError):
    """No valid sign-in: a missing, wrong or expired token (401)."""

    code = "unauthorized"


class Forbidden(TicketGuardError):
    """A known caller asking for what it may not do (an API key outside its usage plan's operations)."""

    code = "forbidden"


class DependencyUnavailable(TicketGuardError):
    code = "dependency_unavailable"


class ModelIntegrityError(TicketGuardError):
    code = "model_integrity_error"


class ModelUnavailable(TicketGuardError):
    """No model is loaded (none shipped, or its directory is unreadable): scoring cannot decide."""

    code = "model_unavailable"
