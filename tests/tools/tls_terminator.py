#!/usr/bin/env python3
"""TLS in front of the emulator or moto, for the tests of trailq's HTTPS clients.

Usage: tls_terminator.py DIR UPSTREAM_PORT

Makes a certificate authority and a server certificate for 127.0.0.1 signed by it (with the
`cryptography` package moto already brings into the test venv), writes the authority's
certificate to DIR/ca.pem and that of another authority, which signed nothing, to
DIR/other-ca.pem, listens on an ephemeral loopback port with TLS 1.2/1.3, and prints the port on
its first line. Each connection's decrypted bytes go to 127.0.0.1:UPSTREAM_PORT (the emulator or
moto, plain HTTP) and its answers come back encrypted. Runs until killed.
"""

import datetime
import ipaddress
import os
import select
import socket
import socketserver
import ssl
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


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


class Relay(socketserver.BaseRequestHandler):
    """Copies bytes both ways between the TLS client and the upstream until either side closes.

    One thread per connection does both directions: OpenSSL's connection state must not be read
    and written from two threads at once (that garbled records as soon as several connections
    were busy together: "cannot decrypt peer's message")."""

    def handle(self):
        tls = self.request
        upstream = socket.create_connection(("127.0.0.1", self.server.upstream_port))
        try:
            while True:
                # Bytes OpenSSL has already decrypted do not make the socket readable.
                ready = [tls] if tls.pending() else select.select([tls, upstream], [], [])[0]
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is tls else tls).sendall(data)
        except OSError:
            pass
        finally:
            for s in (tls, upstream):
                try:
                    s.close()
                except OSError:
                    pass


def main():
    folder, upstream_port = sys.argv[1], int(sys.argv[2])
    certificates(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.path.join(folder, "server.pem"), os.path.join(folder, "server.key"))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Relay)
    server.daemon_threads = True
    server.upstream_port = upstream_port
    # A client that refuses the certificate fails the handshake in accept(): socketserver drops
    # that connection and goes on serving.
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
