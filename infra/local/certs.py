"""Device identity like IoT Core: a local certificate authority (generated into the state dir on
first start, never committed) and one client certificate per identity, whose common name is the
thing name. mosquitto maps that name to the MQTT user name (`use_identity_as_username`) and its
ACL patterns on `%u` let a device publish and subscribe only under its own topics.

Identities: every device (gate camera, charger) by its device id, issued on first use as
registering a thing in IoT Core would; the backend's downlink publisher (`BACKEND`) and the rules
bridge (`BRIDGE`) have their own with broad rights.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BACKEND = "parkcharge-backend"
BRIDGE = "parkcharge-rules-bridge"
SERVER = "parkcharge-local-broker"
VALID_DAYS = 825
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")  # IoT thing-name characters


@contextlib.contextmanager
def _lock(directory: Path) -> Iterator[None]:
    """Across processes: the stack, simulators and tests may issue the same identity at once."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class ClientCert:
    ca: Path
    cert: Path
    key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    tmp.chmod(0o600)
    tmp.replace(path)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tmp.replace(path)


def ca_paths(directory: Path) -> tuple[Path, Path]:
    return directory / "ca.pem", directory / "ca.key"


def ensure_ca(directory: str | Path) -> Path:
    """The CA certificate (created with its key in `directory` unless it exists)."""
    directory = Path(directory)
    cert_path, key_path = ca_paths(directory)
    with _lock(directory):
        if cert_path.exists() and key_path.exists():
            return cert_path
        key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "parkcharge local CA")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
        return cert_path


def _issue(directory: Path, identity: str, server: bool) -> ClientCert:
    ca_cert_path, ca_key_path = ca_paths(directory)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    paths = ClientCert(ca_cert_path, directory / f"{identity}.pem", directory / f"{identity}.key")
    _write_key(paths.key, key)
    _write_cert(paths.cert, cert)
    return paths


def certificate(directory: str | Path, identity: str, server: bool = False) -> ClientCert:
    """The certificate and key of `identity` (issued by the local CA on first use)."""
    if not _NAME.match(identity):
        raise ValueError(f"not a thing name: {identity!r}")
    directory = Path(directory)
    ensure_ca(directory)
    with _lock(directory):
        paths = ClientCert(
            ca_paths(directory)[0], directory / f"{identity}.pem", directory / f"{identity}.key"
        )
        if paths.cert.exists() and paths.key.exists():
            return paths
        return _issue(directory, identity, server)


def server_certificate(directory: str | Path) -> ClientCert:
    return certificate(directory, SERVER, server=True)


def paho_tls(client: Any, cert: ClientCert) -> None:
    """Mutual TLS for a paho client: the broker's certificate checked against the local CA."""
    import ssl

    client.tls_set(
        ca_certs=str(cert.ca),
        certfile=str(cert.cert),
        keyfile=str(cert.key),
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
