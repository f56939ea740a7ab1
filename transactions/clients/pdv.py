"""The Personal Data Vault tokenizer (spec Part B §8.5): e-mails and fiscal codes travel as tokens.

The path `GET {PERSONAL_DATA_VAULT_API_BASE_PATH}/tokens/{token}/pii` → `{"pii": "..."}` with the
`x-api-key` header is PDV's public tokenizer API; the spec names only the base path, so the path is
inferred. The decrypted value is never logged and never appears in an error.
"""

from __future__ import annotations

from urllib.parse import quote

import requests
from django.conf import settings

from transactions.clients import ClientError, Service, call, json_object


class PdvError(ClientError):
    service = "pdv"


PDV = Service("pdv", "PERSONAL_DATA_VAULT_API_BASE_PATH", "PERSONAL_DATA_VAULT", PdvError)


def _pii(response: requests.Response) -> str:
    pii = json_object(response)["pii"]
    if not isinstance(pii, str):
        raise TypeError("pii is not a string")
    return pii


def _detokenize(operation: str, token: str, key: str) -> str:
    path = f"/tokens/{quote(token, safe='')}/pii"
    return call(PDV, operation, "GET", path, headers={"x-api-key": key}, parse=_pii)


def decrypt_email(token: str) -> str:
    """The e-mail behind a transaction's e-mail token (eCommerce key)."""
    return _detokenize("decrypt-email", token, settings.DISPATCHER.ECOMMERCE_PERSONAL_DATA_VAULT_API_KEY)


def decrypt_fiscal_code(user_id: str) -> str:
    """The fiscal code behind a user id (wallet-session key)."""
    return _detokenize("decrypt-fiscal-code", user_id, settings.DISPATCHER.WALLET_SESSION_PERSONAL_DATA_VAULT_API_KEY)
