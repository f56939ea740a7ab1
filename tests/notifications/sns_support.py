"""A stand-in for Amazon SNS: its own signing key and certificate, served over HTTPS on loopback (by a
test certificate authority that `requests` is told to trust), and messages signed the way AWS
documents it ("Verifying the signatures of Amazon SNS messages"), written here independently of the
code under test."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses_notifications"
SIGNING_ORDER = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
    "UnsubscribeConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
}
DIGESTS = {"1": hashes.SHA1, "2": hashes.SHA256}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(subject: str, key, issuer: str, issuer_key, ca: bool = False, ip: str | None = None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(value) -> bytes:
    if isinstance(value, rsa.RSAPrivateKey):
        return value.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return value.public_bytes(serialization.Encoding.PEM)


def start_https_server(directory: Path) -> tuple[HTTPServer, Path]:
    """A loopback HTTPS server, and the CA file that makes `requests` trust it."""
    ca_key, server_key = new_key(), new_key()
    ca = certificate("Test CA", ca_key, "Test CA", ca_key, ca=True)
    server_certificate = certificate("127.0.0.1", server_key, "Test CA", ca_key, ip="127.0.0.1")
    ca_file, chain_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca_file.write_bytes(pem(ca))
    chain_file.write_bytes(pem(server_certificate) + pem(ca))
    key_file.write_bytes(pem(server_key))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain_file, key_file)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    return server, ca_file


def string_to_sign(message: dict) -> bytes:
    return "".join(
        f"{name}\n{message[name]}\n" for name in SIGNING_ORDER[message["Type"]] if message.get(name) is not None
    ).encode()


class SnsStandIn:
    """Signs messages with its key; its certificate is served at a path of its own on the HTTPS server."""

    def __init__(self, server: HTTPServer, key: rsa.RSAPrivateKey, certificate_pem: bytes):
        self.server = server
        self.key = key
        self.certificate_path = f"/SimpleNotificationService-{uuid.uuid4().hex}.pem"
        self.certificate_url = server.url_for(self.certificate_path)
        server.expect_request(self.certificate_path).respond_with_data(
            certificate_pem, content_type="application/x-x509-ca-cert"
        )

    def sign(self, message: dict | str, version: str = "1", certificate_url: str | None = None) -> str:
        """The message (a dict or its JSON) signed like SNS signs it, as the JSON SNS would post."""
        message = json.loads(message) if isinstance(message, str) else dict(message)
        message.update(SignatureVersion=version, SigningCertURL=certificate_url or self.certificate_url)
        signature = self.key.sign(string_to_sign(message), padding.PKCS1v15(), DIGESTS[version]())
        message["Signature"] = base64.b64encode(signature).decode()
        return json.dumps(message)

    def subscription_confirmation(self, topic: str = TOPIC, message_type: str = "SubscriptionConfirmation") -> dict:
        token = uuid.uuid4().hex
        path = "/confirm-subscription"
        self.server.expect_request(path, query_string={"Token": token}).respond_with_data(
            "<ConfirmSubscriptionResponse/>"
        )
        return {
            "Type": message_type,
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic,
            "Message": f"You have chosen to subscribe to the topic {topic}.",
            "SubscribeURL": self.server.url_for(path) + f"?Token={token}",
            "Timestamp": "2026-12-01T12:00:00.000Z",
        }

    def requests_to(self, path: str) -> int:
        return sum(1 for request, _ in self.server.log if request.path == path)
