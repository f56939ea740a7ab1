"""Schemathesis hooks for the fuzzing run (tests/api/test_schemathesis.py), loaded by `st` through
SCHEMATHESIS_HOOKS; everything comes from FUZZ_* environment variables the test sets.

- With FUZZ_OPERATOR_KEY etc. set, every case carries valid credentials: the operator's x-api-key, a
  fresh Notify JWT (its `iat` must be within 30 s, so it is made per case) and the callback token.
  Without them, cases carry only what Schemathesis generates, and must be refused in each API's format.
- Half of the positive cases of a v2 send name a real template and a valid recipient, and half of a
  statistics read the real service, so creation and statistics are reached, not only their refusals.
"""

from __future__ import annotations

import os
import time
import zlib

import jwt
import schemathesis

OPERATOR_KEY = os.environ.get("FUZZ_OPERATOR_KEY", "")
NOTIFY_SERVICE_ID = os.environ.get("FUZZ_NOTIFY_SERVICE_ID", "")
NOTIFY_SECRET = os.environ.get("FUZZ_NOTIFY_SECRET", "")
CALLBACK_TOKEN = os.environ.get("FUZZ_CALLBACK_TOKEN", "")
TEMPLATES = {"sms": os.environ.get("FUZZ_SMS_TEMPLATE", ""), "email": os.environ.get("FUZZ_EMAIL_TEMPLATE", "")}
RECIPIENTS = {"sms": ("phone_number", "07700 900123"), "email": ("email_address", "fuzz@example.com")}


def notify_token() -> str:
    return jwt.encode({"iss": NOTIFY_SERVICE_ID, "iat": int(time.time())}, NOTIFY_SECRET, algorithm="HS256")


if OPERATOR_KEY:

    @schemathesis.auth(refresh_interval=None)
    class ServiceCredentials:
        def get(self, case, ctx):
            path = case.operation.path
            if path.startswith("/v2/"):
                return {"Authorization": f"Bearer {notify_token()}"}
            if path.startswith("/notifications/"):
                return {"Authorization": f"Bearer {CALLBACK_TOKEN}"}
            return {"x-api-key": OPERATOR_KEY}

        def set(self, case, data, ctx):
            case.headers = {**(case.headers or {}), **data}


@schemathesis.hook
def map_case(context, case):
    """Half of the positive cases of a v2 send name a real template and a valid recipient, and half of a
    statistics read the real service; negative cases are left alone, so they stay negative."""
    meta = case.meta
    if not NOTIFY_SERVICE_ID or meta is None or meta.generation.mode.is_negative:
        return case
    if zlib.crc32(repr((case.body, case.path_parameters)).encode()) % 2:
        return case
    path = case.operation.path
    kind = path.removeprefix("/v2/notifications/")
    if kind in RECIPIENTS and isinstance(case.body, dict):
        field, recipient = RECIPIENTS[kind]
        case.body = {**case.body, "template_id": TEMPLATES[kind], field: recipient}
    elif "service_id" in (case.path_parameters or {}):
        case.path_parameters = {**case.path_parameters, "service_id": NOTIFY_SERVICE_ID}
    return case
