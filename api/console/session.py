"""The console's session cookie and CSRF tokens.

The cookie carries the staff member's access token (HttpOnly, SameSite=Strict, Secure under
HTTPS). Every form carries a CSRF token: a keyed digest of the cookie's value (or of a
pre-session nonce on the sign-in page), so it is worthless without the cookie and the server key.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from domain.auth import TokenService

COOKIE = "hearth_console"
NONCE_COOKIE = "hearth_console_nonce"


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def csrf_token(tokens: TokenService, value: str) -> str:
    return tokens.digest(f"console-csrf:{value}").hex()


def csrf_valid(tokens: TokenService, value: str | None, presented: object) -> bool:
    if not value or not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(csrf_token(tokens, value), presented)


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        secure=secure(request),
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path="/console", httponly=True, secure=secure(request), samesite="strict"
    )
