"""The one error vocabulary of clm.

Every error a user can cause is a ``ClmError`` carrying a stable ``code`` (used by the API's
JSON error shape and by scripts), an HTTP status, and the context a user needs to fix it
(file, line, field, rule line). Leaves also inherit the matching builtin, so callers that only
know ``ValueError`` or ``LookupError`` still catch them (the ibis habit).
"""

from __future__ import annotations

from typing import Any


class ClmError(Exception):
    """Base of every error clm raises on purpose."""

    code: str = "clm_error"
    http_status: int = 500

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """The JSON error shape shared by the API, the web app and ``--format json``."""
        return {"error": {"code": self.code, "message": self.message, "context": self.context}}

    def __str__(self) -> str:
        return self.message


class InputError(ClmError, ValueError):
    """Input a user supplied is unusable: a data file, an option, a form field."""

    code = "input_error"
    http_status = 422


class DataFileError(InputError):
    """A whole data file cannot be read (missing, unreadable, a required column absent)."""

    code = "data_file"


class RuleError(InputError):
    """A stage model, tag rule or playbook file is invalid; names file, line and the culprit."""

    code = "rule"


class ConfigError(InputError):
    """A setting or the config file is invalid or unsafe."""

    code = "config"


class NotFoundError(ClmError, LookupError):
    """A named thing (customer, task, model version) does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(ClmError):
    """The request conflicts with the current state (already done, duplicate)."""

    code = "conflict"
    http_status = 409


class AuthenticationError(ClmError):
    """No valid credentials were given."""

    code = "unauthorized"
    http_status = 401


class PermissionDeniedError(ClmError, PermissionError):
    """The user is known but their role does not allow this."""

    code = "forbidden"
    http_status = 403


class UnsupportedError(ClmError, NotImplementedError):
    """The chosen engine or backend cannot do this; fails loudly instead of silently differing."""

    code = "unsupported"
    http_status = 501


class ModelFitError(ClmError, ArithmeticError):
    """A statistical model cannot be fitted to this data (too few repeat buyers, bad data)."""

    code = "model_fit"
    http_status = 422


class NotFittedError(ClmError, AttributeError):
    """A model was used for prediction before ``fit``."""

    code = "not_fitted"
    http_status = 409
