"""Errors the engine raises. Messages never contain an API key: they are built from the status, the
server's error text (redacted with lion_cli.core.redact before it is shortened, so no cut leaves part
of an echoed key behind), the URL without credentials and the variable's name (not even that when it
looks like a key pasted in its place), never from request headers."""

from __future__ import annotations


class ApiError(RuntimeError):
    """A call failed for good: a non-retryable 4xx at once, or retries exhausted."""

    def __init__(self, message: str, *, status: int | None = None, role: str = "", retries: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.role = role
        self.retries = retries


class MissingApiKey(ApiError):
    """The environment variable named by an endpoint's api_key_env is not set."""


class BudgetExceeded(RuntimeError):
    """The spend reached the budget cap; no new paid request is sent."""

    def __init__(self, spent_usd: float, max_usd: float) -> None:
        super().__init__(f"budget reached: spent ${spent_usd:.4f} of max_usd ${max_usd:.4f}")
        self.spent_usd = spent_usd
        self.max_usd = max_usd


class RetryableError(Exception):
    """One attempt failed in a way worth retrying (internal to the engine)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None,
                 rate_limited: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.rate_limited = rate_limited


# Statuses that say this one request cannot be served as it is (too long for the model's context, too
# large, refused by a content filter, not processable): asking again sends the same thing and fails the
# same way, but the next item may well succeed. 401/403/404 (key, permission, URL or model) and 402
# (billing) are the project's configuration and fail every item alike: those stop the stage.
# 408/409/429/5xx and timeouts are retried by the engine before they get here.
ITEM_FAILURE_STATUSES = frozenset({400, 413, 422})


def is_item_failure(exc: BaseException) -> bool:
    """Whether `exc` ends only the item it was raised for: the stage records it and goes on."""
    return (isinstance(exc, ApiError) and not isinstance(exc, MissingApiKey)
            and exc.status in ITEM_FAILURE_STATUSES)

