"""Judging new passwords with zxcvbn: common and breached passwords, patterns, own words.

zxcvbn ships frequency lists (among them the 30,000 most common passwords of breach corpora,
plus names and English words) and spots keyboard walks, sequences, repeats, dates and
l33t substitutions; it estimates how many guesses a password would take.
"""

from __future__ import annotations

from collections.abc import Sequence

from zxcvbn import zxcvbn

# Score 3: "safely unguessable", about 10^8-10^10 guesses; below that a password falls to an
# offline attack on a leaked hash, even an argon2id one, in reasonable time.
MIN_SCORE = 3
# zxcvbn's cost grows quickly with length (a second for 256 characters): judge the first 72,
# which already decide whether a password is weak.
JUDGED_LENGTH = 72


class ZxcvbnScreen:
    def __init__(self, min_score: int = MIN_SCORE) -> None:
        self._min_score = min_score

    def weakness(self, password: str, hints: Sequence[str]) -> str | None:
        result = zxcvbn(password[:JUDGED_LENGTH], user_inputs=list(hints))
        if int(result["score"]) >= self._min_score:
            return None
        feedback = result["feedback"]
        # zxcvbn's advice is generic text ("This is a very common password."), never the input.
        parts = [feedback.get("warning") or "", *feedback.get("suggestions", [])]
        return " ".join(p for p in parts if p) or "Use a longer passphrase of uncommon words."
