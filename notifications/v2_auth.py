"""Authentication of the v2 API the way GOV.UK Notify's official clients do it.

The client holds `<key name>-<service id>-<secret>` and sends `Authorization: Bearer <JWT>`, an HS256
token signed with the secret whose `iss` is the service id and whose `iat` is the current time; a token
more than 30 seconds away from our clock is refused. Messages and status codes are Notify's.
"""

from __future__ import annotations

import hmac
import time
import uuid

import jwt
from django.http import HttpRequest

from notifications.models import ApiKey, Service

CLOCK_SKEW_SECONDS = 30
ALGORITHM = "HS256"


class AuthError(Exception):
    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.message = message
        self.status = status


def bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization")
    if not header:
        raise AuthError("Unauthorized: authentication token must be provided", 401)
    if header[:7].title() != "Bearer ":
        raise AuthError("Unauthorized: authentication bearer scheme must be used", 401)
    return header[7:]


def token_service_id(token: str) -> uuid.UUID:
    try:
        claims = jwt.decode(token, options={"verify_signature": False}, algorithms=[ALGORITHM])
    except jwt.DecodeError:
        raise AuthError("Invalid token: signature, api token is not valid") from None
    if "iss" not in claims:
        raise AuthError("Invalid token: iss field not provided")
    try:
        return uuid.UUID(str(claims["iss"]))
    except ValueError:
        raise AuthError("Invalid token: service id is not the right data type") from None


def signed_with(token: str, secret: str) -> bool:
    """True when `secret` signed the token; raises AuthError for a well-signed token that is unusable."""
    try:
        claims = jwt.decode(token, key=secret, algorithms=[ALGORITHM], options={"verify_iat": False})
    except jwt.InvalidAlgorithmError:
        raise AuthError("Invalid token: algorithm used is not HS256") from None
    except jwt.InvalidSignatureError:
        return False
    except jwt.InvalidTokenError:
        raise AuthError("Invalid token: signature, api token is not valid") from None
    if "iat" not in claims:
        raise AuthError("Invalid token: iat field not provided")
    try:
        issued_at = int(claims["iat"])
    except (TypeError, ValueError):
        raise AuthError("Invalid token: signature, api token is not valid") from None
    if abs(time.time() - issued_at) > CLOCK_SKEW_SECONDS:
        raise AuthError("Error: Your system clock must be accurate to within 30 seconds")
    return True


def authenticate(request: HttpRequest) -> ApiKey:
    """The API key that signed the request's token, or AuthError."""
    token = bearer_token(request)
    service = Service.objects.filter(id=token_service_id(token)).first()
    if service is None:
        raise AuthError("Invalid token: service not found")
    keys = list(ApiKey.objects.filter(service=service).order_by("created_at"))
    if not keys:
        raise AuthError("Invalid token: service has no API keys")
    if not service.active:
        raise AuthError("Invalid token: service is archived")
    for key in keys:
        if signed_with(token, key.secret):
            if key.revoked:
                raise AuthError("Invalid token: API key revoked")
            key.service = service
            return key
    raise AuthError("Invalid token: API key not found")


def api_key_from_string(presented: str) -> ApiKey:
    """The API key whose full string `<name>-<service id>-<secret>` was presented (POST /emails takes the
    string itself, as the notifications service's subscription key); AuthError (401/403) otherwise."""
    if not presented:
        raise AuthError("Unauthorized: subscription key must be provided", 401)
    # The name may hold dashes; the service id and the secret are the last two UUIDs.
    service_part, secret = presented[-73:-37], presented[-36:]
    try:
        service_id = uuid.UUID(service_part)
    except ValueError:
        raise AuthError("Invalid subscription key", 401) from None
    service = Service.objects.filter(id=service_id).first()
    if service is None or presented[-74:-73] != "-" or presented[-37:-36] != "-":
        raise AuthError("Invalid subscription key", 401)
    name = presented[:-74]
    for key in ApiKey.objects.filter(service=service, name=name):
        if hmac.compare_digest(key.secret.encode(), secret.encode()):
            if key.revoked:
                raise AuthError("Invalid subscription key: API key revoked")
            if not service.active:
                raise AuthError("Invalid subscription key: service is archived")
            key.service = service
            return key
    raise AuthError("Invalid subscription key", 401)
