"""English and German message catalogues for the console."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

LANGUAGES = ("en", "de")
LANGUAGE_COOKIE = "hearth_console_lang"
_DIR = Path(__file__).parent / "messages"


@cache
def catalogue(lang: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return loaded


def language(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return chosen
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    if remembered in LANGUAGES:
        return remembered
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"


def remember_language(response: Response, lang: str) -> None:
    """The language chosen with ?lang= holds for the next pages too (not personal data)."""
    response.set_cookie(
        LANGUAGE_COOKIE, lang, max_age=365 * 86400, path="/console", samesite="strict"
    )
