//! trailq's HTTPS client (the AWS SDK's, with rustls on ring: src/aws.rs) against the emulator
//! behind a real TLS server on loopback (tests/tools/tls_terminator.py): it completes the
//! handshake, and it trusts only what the trusted roots vouch for. Every other test talks plain
//! HTTP to the emulator (tests/s3.rs puts the same server in front of moto for S3's client).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use trailq_emulator::{Emulator, EmulatorConfig};

use crate::util::{stderr, stdout, trailq_command};

/// tests/tools/tls_terminator.py in front of a plain-HTTP server on loopback.
pub struct Terminator {
    child: Child,
    /// `ca.pem` (the authority that signed the server's certificate) and `other-ca.pem`.
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Drop for Terminator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// TLS on an ephemeral loopback port, forwarded to `127.0.0.1:upstream`.
pub fn terminate_tls(upstream: u16) -> Terminator {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/tools/tls_terminator.py"))
        .arg(dir.path())
        .arg(upstream.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the test venv's python (scripts/setup-venv.sh)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the TLS server prints its port");
    Terminator { child, dir, port }
}

/// The emulator behind TLS.
struct TlsServer {
    tls: Terminator,
    _emulator: Emulator,
}

fn start() -> TlsServer {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    TlsServer {
        tls: terminate_tls(emulator.addr().port()),
        _emulator: emulator,
    }
}

/// `trailq stores` against the server, trusting the certificates in `roots` and nothing else.
fn stores(server: &TlsServer, roots: &Path) -> Output {
    trailq_command()
        .env("SSL_CERT_FILE", roots)
        .env_remove("SSL_CERT_DIR")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
        .env("AWS_REGION", "us-east-1")
        .args(["stores", "--endpoint-url"])
        .arg(format!("https://127.0.0.1:{}", server.tls.port))
        .output()
        .expect("trailq runs")
}

#[test]
fn the_aws_client_speaks_tls_and_trusts_only_what_its_roots_vouch_for() {
    let server = start();

    let trusted = stores(&server, &server.tls.dir.path().join("ca.pem"));
    assert_eq!(trusted.status.code(), Some(0), "{}", stderr(&trusted));
    let table = stdout(&trusted);
    assert!(
        table
            .lines()
            .any(|l| l.contains("trailq-emulator") && l.contains("ENABLED")),
        "{table}"
    );

    let untrusted = stores(&server, &server.tls.dir.path().join("other-ca.pem"));
    assert_refused(&untrusted, "ListEventDataStores");
}

/// A run refused by the server's certificate: exit 2 and one line naming `what` was asked, the
/// refusal, and what to do (SSL_CERT_FILE).
pub fn assert_refused(output: &Output, what: &str) {
    assert_eq!(output.status.code(), Some(2), "{}", stdout(output));
    let error = stderr(output);
    assert!(
        error.contains(what)
            && error.contains("invalid peer certificate")
            && error.contains("SSL_CERT_FILE"),
        "{error}"
    );
    assert_eq!(error.trim_end().lines().count(), 1, "{error}");
}
