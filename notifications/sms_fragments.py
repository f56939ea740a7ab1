"""Billable units of an SMS: how many message fragments its text takes (spec notifications.md Part A §7).

1. A text written entirely in the GSM 03.38 alphabet is sent in GSM-7: one fragment holds 160
   characters; a longer text is split into fragments of 153 (7 go to the concatenation header).
   Characters of the alphabet's extension table (`^{}\\[~]|€` and form feed) take two places each.
2. Any other text is sent in UCS-2: 70 characters in one fragment, else fragments of 67. Characters
   outside the Basic Multilingual Plane (most emoji) take two places, as in UTF-16.
3. An empty text still costs one fragment.
"""

from __future__ import annotations

import math

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_MULTIPART = 160, 153
UCS2_SINGLE, UCS2_MULTIPART = 70, 67


def is_gsm7(text: str) -> bool:
    return all(character in GSM7_BASIC or character in GSM7_EXTENSION for character in text)


def gsm7_length(text: str) -> int:
    """Septets the text takes in GSM-7 (extension characters are an escape plus the character)."""
    return sum(2 if character in GSM7_EXTENSION else 1 for character in text)


def ucs2_length(text: str) -> int:
    """UTF-16 code units: characters beyond U+FFFF are a surrogate pair."""
    return len(text.encode("utf-16-le")) // 2


def fragment_count(text: str) -> int:
    """The number of SMS fragments (billable units) the text is sent in."""
    if is_gsm7(text):
        length, single, multipart = gsm7_length(text), GSM7_SINGLE, GSM7_MULTIPART
    else:
        length, single, multipart = ucs2_length(text), UCS2_SINGLE, UCS2_MULTIPART
    if length <= single:
        return 1
    return math.ceil(length / multipart)
