"""The certificate behind localaws's HTTPS listener: a throwaway CA and a server certificate it signs.

Both are generated at start (ECDSA P-256, valid for a week) and written to a directory that stop()
removes. Clients trust the CA, not the server certificate, so verification works the same way
it does against AWS (``verify=<ca_bundle>`` in boto3, ``AWS_CA_BUNDLE`` for the CLI), including
under the strict X.509 checks of newer OpenSSL and Python (CA with keyCertSign, leaf with
serverAuth, key identifiers on both).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=7)
# Clock skew between this host and a client (a container, say) must not make a new certificate "not yet valid".
BACKDATE = dt.timedelta(minutes=5)
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TLSMaterial:
    directory: Path
    ca_bundle: Path  # PEM of the CA certificate: what clients verify against
    cert_file: Path  # server certificate followed by the CA certificate
    key_file: Path
    owns_directory: bool

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # what AWS endpoints accept
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def remove(self) -> None:
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            for path in (self.ca_bundle, self.cert_file, self.key_file):
                path.unlink(missing_ok=True)


def generate(names: Iterable[str] = (), directory: str | os.PathLike[str] | None = None) -> TLSMaterial:
    """A fresh CA and a server certificate for localhost, 127.0.0.1, ::1 and ``names``.

    ``directory`` (created if missing) keeps the files where another process can read them, e.g. a
    volume shared with Airflow containers; without it they go to a private temporary directory.
    """
    if directory is None:
        target, owns = Path(tempfile.mkdtemp(prefix="localaws-tls-")), True
    else:
        target, owns = Path(directory), False
        target.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "localaws"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"localaws CA {now:%Y-%m-%dT%H:%M:%SZ}"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names = _subject_alt_names([*DEFAULT_NAMES, *names])
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(alt_names, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    material = TLSMaterial(
        directory=target,
        ca_bundle=target / "localaws-ca.pem",
        cert_file=target / "localaws-server.pem",
        key_file=target / "localaws-server.key",
        owns_directory=owns,
    )
    material.ca_bundle.write_bytes(ca_pem)
    material.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # The private key is readable by its owner only, even in a shared directory.
    fd = os.open(material.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as key_out:
        key_out.write(key_pem)
    return material


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _subject_alt_names(names: Iterable[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):  # de-duplicated, in order
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)
