"""Billable units: GSM-7 texts in fragments of 160, then 153; any other text in 70, then 67 (Part A §7)."""

import pytest

from notifications.sms_fragments import fragment_count, gsm7_length, is_gsm7


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", 1),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("Prenotazione confermata: è tutto pronto, ci vediamo alle 10:30 @ via Roma 1!", 1),
        ("€" * 80, 1),  # an extension character takes two septets: 160
        ("€" * 81, 2),  # 162 septets
        ("{" * 76 + "a" * 7, 1),  # 159 septets
        ("Ł", 1),  # outside GSM-7: UCS-2
        ("Ł" * 70, 1),
        ("Ł" * 71, 2),
        ("Ł" * 134, 2),
        ("Ł" * 135, 3),
        ("a" * 69 + "😀", 2),  # an emoji is two UTF-16 units: 71 units
        ("ç" + "a" * 100, 2),  # lower-case ç is not GSM-7 (only Ç is)
    ],
)
def test_fragments(text, fragments):
    assert fragment_count(text) == fragments


def test_gsm7_alphabet_and_lengths():
    assert is_gsm7("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà^{}\\[~]|€")
    assert not is_gsm7("á")
    assert gsm7_length("a^b") == 4
