#!/usr/bin/env python3
"""A CloudTrail endpoint over real TLS on loopback, for the test of trailq's HTTPS client.

Usage: tls_cloudtrail.py DIR

Makes a certificate authority and a server certificate for 127.0.0.1 signed by it (with the
`cryptography` package moto already brings into the test venv), writes the authority's
certificate to DIR/ca.pem and that of another authority, which signed nothing, to
DIR/other-ca.pem, listens on an ephemeral loopback port with TLS 1.2/1.3, and prints the port on
its first line. It answers ListEventDataStores with one store (`tls-check`) and
GetEventDataStore with its details, as CloudTrail's JSON protocol does; anything else is a 400.
Runs until killed.
"""

import datetime
import http.server
import ipaddress
import json
import os
import ssl
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ARN = "arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/tls-check"


def authority(name, now):
    """A self-signed certificate authority: (key, name, certificate)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca_name, ca


def certificates(folder):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, ca_name, ca = authority("trailq test CA", now)
    other = authority("another CA", now)[2]
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    with open(os.path.join(folder, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(folder, "other-ca.pem"), "wb") as f:
        f.write(other.public_bytes(pem))
    with open(os.path.join(folder, "server.pem"), "wb") as f:
        f.write(server.public_bytes(pem))
    with open(os.path.join(folder, "server.key"), "wb") as f:
        f.write(
            key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".ListEventDataStores"):
            status, body = 200, {"EventDataStores": [{"EventDataStoreArn": ARN, "Name": "tls-check"}]}
        elif target.endswith(".GetEventDataStore"):
            status, body = 200, {
                "EventDataStoreArn": ARN,
                "Name": "tls-check",
                "Status": "ENABLED",
                "RetentionPeriod": 7,
                "MultiRegionEnabled": False,
                "OrganizationEnabled": False,
            }
        else:
            status, body = 400, {"__type": "InvalidRequestException", "message": target}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    folder = sys.argv[1]
    certificates(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.path.join(folder, "server.pem"), os.path.join(folder, "server.key"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
