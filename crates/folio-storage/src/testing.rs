//! A real S3-compatible server for tests: `moto_server` (PyPI `moto[server]`,
//! installed into `~/.cache/folio-tools/moto` by `scripts/test-setup.sh`),
//! started on a free port and killed when dropped. Tests that need it fail
//! loudly when it is missing, unless `FOLIO_SKIP_S3=1`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `FOLIO_SKIP_S3=1`: S3 tests pass without running.
pub fn skip() -> bool {
    std::env::var("FOLIO_SKIP_S3").is_ok_and(|v| v == "1")
}

/// The `moto_server` program: `FOLIO_MOTO_SERVER`, the test-setup venv, or PATH.
pub fn moto_program() -> PathBuf {
    if let Some(p) = std::env::var_os("FOLIO_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/folio-tools/moto/bin/moto_server");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("moto_server")
    }
}

pub struct MotoServer {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A raw HTTP/1.1 request to 127.0.0.1:`port`; the status code.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP answer: {text}")))
}

impl MotoServer {
    /// Start moto on a free port and wait until it answers. Panics with a
    /// clear message when moto is not installed.
    pub fn start() -> MotoServer {
        let program = moto_program();
        let port = free_port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): run scripts/test-setup.sh (installs moto[server]) \
                     or set FOLIO_SKIP_S3=1 to skip the S3 tests",
                    program.display()
                )
            });
        let server = MotoServer {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(port, "GET", "/").is_err() {
            assert!(Instant::now() < deadline, "moto_server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Create a bucket (moto does not check signatures).
    pub fn create_bucket(&self, name: &str) {
        let status = http(self.port, "PUT", &format!("/{name}")).expect("create bucket");
        assert!(status == 200, "creating bucket {name}: HTTP {status}");
    }

    /// The settings for `S3Storage::from_url_with` (and the `AWS_*`
    /// variables of a `folio` process) that reach this server.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("aws_endpoint", self.endpoint.clone()),
            ("aws_allow_http", "true".into()),
            ("aws_region", "us-east-1".into()),
            ("aws_access_key_id", "testing".into()),
            ("aws_secret_access_key", "testing".into()),
        ]
    }
}
