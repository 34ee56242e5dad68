"""Blind indexes: deterministic, separated per field and key, over normalised values."""

from __future__ import annotations

import pytest

from infra.crypto.blind_index import blind_index, exact, normalise_email, normalise_phone

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def test_blind_index_is_deterministic_and_32_bytes() -> None:
    first = blind_index(KEY, "email", "ada@example.org")

    assert first == blind_index(KEY, "email", "ada@example.org")
    assert len(first) == 32


def test_blind_index_differs_per_value() -> None:
    assert blind_index(KEY, "email", "ada@example.org") != blind_index(
        KEY, "email", "bob@example.org"
    )


def test_blind_index_differs_per_field() -> None:
    assert blind_index(KEY, "email", "x") != blind_index(KEY, "phone", "x")


def test_blind_index_differs_per_key() -> None:
    assert blind_index(KEY, "email", "x") != blind_index(OTHER_KEY, "email", "x")


def test_email_normalisation_makes_equal_addresses_equal() -> None:
    first = blind_index(KEY, "email", " A@B.org", normalise=normalise_email)
    second = blind_index(KEY, "email", "a@b.org", normalise=normalise_email)

    assert first == second


def test_without_normalisation_case_matters() -> None:
    assert blind_index(KEY, "email", "A@B.org") != blind_index(KEY, "email", "a@b.org")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (" A@B.org", "a@b.org"),
        ("\tStraße@Example.ORG \n", "strasse@example.org"),
        ("a@b.org", "a@b.org"),
    ],
)
def test_normalise_email(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("+44 (0)20 7946-0958", "+4402079460958"),
        ("  +1 555.010.0199 ", "+15550100199"),
        ("020 7946 0958", "02079460958"),
        ("0044+20", "004420"),
        ("\uff10\uff12\uff10 \uff17\uff19\uff14\uff16", "0207946"),  # full-width digits
        ("", ""),
    ],
)
def test_normalise_phone(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised


def test_exact_leaves_values_alone() -> None:
    assert exact(" A ") == " A "


def test_purpose_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        blind_index(b"short", "email", "x")


def test_field_name_is_required() -> None:
    with pytest.raises(ValueError, match="field"):
        blind_index(KEY, "", "x")
