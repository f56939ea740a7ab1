"""Masking of personal data (issue 13): e-mail addresses and phone numbers are never shown in clear.

1. `mask_email("jane@example.com")` is `j***@example.com`: the first character and the domain stay,
   so an operator can tell two recipients apart and see the provider, not read the address.
2. `mask_phone("07700900123")` is `07******123`: the first two and the last three digits stay.
3. `mask_recipient` masks either, by its shape; `mask_text` masks every address and phone number inside
   free text (dead-letter originals, error texts, log lines) and leaves the rest as it was.
4. `PersonalDataLogFilter`, on the log handler, applies `mask_text` to each record's message, its
   exception text and its stack, so no log line carries an address or a number in clear.

A phone number in free text is a whole run of digits (single spaces allowed between groups, nothing
alphanumeric around it) shaped like one: `+` and 10-15 digits; `00`, a country code and 12-15 digits;
a national number with its trunk `0` (10-11 digits, `0` then 1-9); an Italian mobile (10 digits from
`3`); or `44`/`39` and 11-13 digits (how SMS providers write numbers). So transaction ids (hex), rptIds
(29 digits), RRNs (12 digits), organisations' fiscal codes (11 digits, not from 0 then 1-9), epoch times
and amounts stay readable. An 11-digit fiscal code starting `0[1-9]` is masked too: the shapes overlap.
"""

from __future__ import annotations

import logging
import re

EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d(?: ?\d){9,14}"
    r"|00[1-9](?: ?\d){9,12}"
    r"|0[1-9](?: ?\d){8,9}"
    r"|3(?: ?\d){9}"
    r"|(?:44|39)(?: ?\d){9,11}"
    r")(?![\w]|[.:]\d)"
)


def mask_email(address: str) -> str:
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(number: str) -> str:
    digits = [index for index, character in enumerate(number) if character.isdigit()]
    if len(digits) < 6:
        return "*" * len(number)
    hidden = set(digits[2:-3])
    return "".join("*" if index in hidden else character for index, character in enumerate(number))


def mask_recipient(recipient: str) -> str:
    """An e-mail address or a phone number, masked according to which it is."""
    return mask_email(recipient) if "@" in recipient else mask_phone(recipient)


def mask_text(text: str) -> str:
    """The text with every e-mail address and phone number in it masked."""
    if not text:
        return text
    text = EMAIL.sub(lambda match: mask_email(match.group(0)), text)
    return PHONE.sub(lambda match: mask_phone(match.group(0)), text)


class PersonalDataLogFilter(logging.Filter):
    """Masks the formatted message, the exception and the stack of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self.mask(record)
        except Exception:  # noqa: BLE001 - a log call must never raise into the code that logs
            # A message that cannot be formatted (wrong arguments) is kept without its arguments, as
            # `logging` itself would report it rather than raise; they may hold personal data.
            record.msg, record.args = f"unformattable log message: {mask_text(str(record.msg))}", ()
        return True

    @staticmethod
    def mask(record: logging.LogRecord) -> None:
        record.msg = mask_text(record.getMessage())
        record.args = ()
        if record.exc_info:
            # Formatted here, masked, and kept as exc_text, which formatters print instead of formatting
            # exc_info again (our JSON formatter too); exc_info stays for whoever inspects the record.
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
