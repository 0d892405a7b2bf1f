"""The node's own TLS certificate: made self-signed, pinned by its SHA-256 in the document.

No certificate authority is involved. A node that serves HTTPS itself puts
the SHA-256 of its certificate (DER bytes) into its signed node document; a
peer connects without checking any CA chain but refuses a certificate whose
SHA-256 is not the one the node signed (see node/client.py). A node behind a
reverse proxy with a CA certificate publishes no fingerprint, and peers check
its chain as any HTTPS client does.
"""

import datetime
import hashlib
import ipaddress
import json
import sqlite3
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tagshare.node.errors import InvalidInput
from tagshare.node.home import write_private
from tagshare.node.node import Node
from tagshare.node.storage import db
from tagshare.protocol import LocalProtocolError
from tagshare.protocol.document import check_tls_sha256

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
VALIDITY_DAYS = 10 * 365  # pinned, not CA-checked: expiry protects nothing, rotation does


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    @property
    def sha256(self) -> str:
        return certificate_sha256(self.cert)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(f"cannot use {self.cert} and {self.key} for TLS: {exc}") from None
        return context


def home_tls(home: Path) -> TlsFiles | None:
    """The home's tls.crt and tls.key, when both exist."""
    files = TlsFiles(home / CERT_FILE, home / KEY_FILE)
    return files if files.cert.exists() and files.key.exists() else None


def served_tls(home: Path, url: str) -> TlsFiles | None:
    """What `serve` uses by itself: the home's pair, when the node's URL is https://."""
    return home_tls(home) if url.startswith("https://") else None


def certificate_sha256(path: Path) -> str:
    """SHA-256 of the first certificate in a PEM file, over its DER bytes."""
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the TLS certificate {path}: {exc}") from None
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def der_sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def make_self_signed(home: Path, *, name: str, url: str,
                     now: datetime.datetime) -> TlsFiles:
    """Write a new key and self-signed certificate (both 0600) for the URL's host."""
    key = ec.generate_private_key(ec.SECP256R1())
    host = urlsplit(url).hostname or "localhost"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tagshare node")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName([_alt_name(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(home / CERT_FILE, home / KEY_FILE)
    write_private(files.key, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode())
    write_private(files.cert, certificate.public_bytes(serialization.Encoding.PEM).decode())
    return files


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def renew_self_signed(node: Node, now: datetime.datetime) -> dict[str, str]:
    """`tagshare tls self-signed`: a new key and certificate in the home (rotation too)."""
    files = make_self_signed(node.home, name=node.config.name, url=node.config.url, now=now)
    with db.transaction(node.conn):
        node.audit("tls.self_signed", sha256=files.sha256)
    return {"cert": str(files.cert), "key": str(files.key), "sha256": files.sha256,
            "url": node.config.url}


def pinned_sha256(peer: sqlite3.Row) -> str | None:
    """The certificate fingerprint a peer signed into the document we hold for it."""
    try:
        value = json.loads(peer["document"]).get("tls_sha256")
        return check_tls_sha256(value) if value is not None else None
    except (ValueError, AttributeError, LocalProtocolError):
        return None
