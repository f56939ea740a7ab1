"""Encryption at rest of API key secrets.

Notify's clients sign each request with HS256 using the key's secret itself, so the server must be
able to recover the secret: a one-way hash cannot verify an HMAC. Secrets are therefore encrypted
with Fernet under a key derived from DJANGO_SECRET_KEY (rotating that key invalidates API keys).
"""

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"notifications.api-key-secret:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
