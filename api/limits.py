"""Rate limits on sign-in, enrolment and refresh: 429 with Retry-After when exceeded."""

from __future__ import annotations

from dataclasses import dataclass

from api.context import Info
from domain.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class Limit:
    bucket: str
    setting: str  # the Settings field holding how many attempts are allowed
    per_seconds: int


LOGIN_PER_IP = Limit("login-ip", "login_limit_per_ip", 60)
LOGIN_PER_ACCOUNT = Limit("login-account", "login_limit_per_account", 300)
ENROL_PER_IP = Limit("enrol-ip", "enrol_limit_per_ip", 60)
REFRESH_PER_IP = Limit("refresh-ip", "refresh_limit_per_ip", 60)


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            ErrorCode.RATE_LIMITED, f"Too many attempts; try again in {retry_after} seconds."
        )
        self.retry_after = retry_after


def client_address(info: Info) -> str:
    client = info.context.request.client
    return client.host if client else "unknown"


async def enforce(info: Info, limit: Limit, key: str) -> None:
    """Count the attempt; past the limit, answer HTTP 429 with Retry-After and stop here."""
    services = info.context.services
    allowed = int(getattr(services.settings, limit.setting))
    wait = await services.limits.hit(
        limit.bucket, key, limit=allowed, per_seconds=limit.per_seconds
    )
    if wait is not None:
        info.context.response.status_code = 429
        info.context.response.headers["Retry-After"] = str(wait)
        raise RateLimited(wait)
