"""TLS for the sandbox's Kubernetes API: a certificate authority made per run, as EKS gives each cluster one.

kubectl and every client-go program drop all credentials from a kubeconfig whose server is plain http
(client-go `tools/clientcmd/client_config.go`), so the simulator must be https with a CA the client trusts.
Each sandbox run makes a fresh CA and one server certificate for 127.0.0.1 signed by it; clients get the
CA the way EKS hands it out (DescribeCluster `certificateAuthority.data`, kubeconfig
`certificate-authority-data`: base64 of the PEM). The private keys exist only in the sandbox's private
temporary directory (files 0600, directory 0700), for the life of the run: Python's `ssl` module reads a
key only from a file.

EC P-256 keys: generating them takes a millisecond, where RSA-2048 takes ~50 ms per key.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from migrator.files import atomic_write

VALIDITY = datetime.timedelta(days=7)  # a run lasts minutes or hours; a week covers a long `sandbox serve`
CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class ServerTls:
    """What a sandbox run needs: the server's SSL context and the CA clients must trust."""

    context: ssl.SSLContext
    ca_pem: bytes

    @property
    def ca_data(self) -> str:
        """The CA as EKS returns it in `certificateAuthority.data` and kubeconfigs carry it."""
        return base64.b64encode(self.ca_pem).decode("ascii")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aws-auth-migrate sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_server_tls(directory: Path, host: str) -> ServerTls:
    """A fresh CA and a server certificate for `host` (an IP address) and localhost, keys under `directory`."""
    now = datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - CLOCK_SKEW, now + VALIDITY
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("aws-auth-migrate sandbox CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kube-apiserver"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # The server presents its certificate and the CA's; the CA key is never written anywhere.
    chain = server_cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "kube-apiserver.crt", directory / "kube-apiserver.key"
    atomic_write(cert_file, chain)
    atomic_write(key_file, _key_pem(server_key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return ServerTls(context=context, ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM))
