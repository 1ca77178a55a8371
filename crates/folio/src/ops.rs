//! Operator commands: `folio backup` (online copy of the embedded SQLite
//! store) and `folio healthcheck` (a liveness probe for containers that have
//! no curl).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::config::{Config, ServiceArgs};

/// `folio backup --out FILE`.
pub fn backup(cfg: &Config, out: &Path) -> Result<()> {
    if let Some(url) = &cfg.database_url
        && !url.starts_with("sqlite:")
    {
        bail!(
            "folio backup copies the embedded SQLite store; back up PostgreSQL with pg_dump (see README, \"Backups\")"
        );
    }
    let source = cfg.database_path();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = Instant::now();
    let info = rt
        .block_on(folio_db::backup::backup_sqlite(&source, out))
        .with_context(|| format!("backup of {} failed", source.display()))?;
    println!(
        "backed up {} jobs from {} to {} ({} bytes, {} ms, integrity ok)",
        info.jobs,
        source.display(),
        out.display(),
        info.bytes,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// `folio healthcheck [--url URL]`: GET the URL, succeed on status 200.
pub fn healthcheck(url: Option<String>, timeout_secs: u64) -> Result<()> {
    let url = match url {
        Some(u) => u,
        None => {
            // The environment first, so a probe works even while the rest of
            // the configuration does not validate.
            let listen = match std::env::var("FOLIO_LISTEN") {
                Ok(l) if !l.is_empty() => l,
                _ => Config::load(&ServiceArgs::default())?.listen,
            };
            format!("http://{}/health/live", probe_addr(&listen))
        }
    };
    let timeout = Duration::from_secs(timeout_secs.max(1));
    let status = http_get_status(&url, timeout).with_context(|| format!("GET {url}"))?;
    if status != 200 {
        bail!("GET {url} answered {status}");
    }
    Ok(())
}

/// A listen address as a client reaches it: the wildcard becomes loopback.
fn probe_addr(listen: &str) -> String {
    if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = listen.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        listen.to_string()
    }
}

/// Status code of `GET url` (plain `http://host:port/path` only).
fn http_get_status(url: &str, timeout: Duration) -> Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let has_port = authority
        .rsplit(':')
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    let hostport = if has_port && authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let deadline = Instant::now() + timeout;
    let mut last_err = None;
    let mut stream = None;
    for addr in hostport
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {hostport}"))?
    {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let mut s = match (stream, last_err) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(e).context("cannot connect"),
        (None, None) => bail!("{hostport} resolved to no address"),
    };
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    s.set_read_timeout(Some(left))?;
    s.set_write_timeout(Some(left))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: folio-healthcheck\r\nConnection: close\r\n\r\n"
    )?;
    let mut line = String::new();
    // A status line is short: read at most 1 KiB.
    let n = BufReader::new(s.take(1024)).read_line(&mut line)?;
    if n == 0 {
        bail!("the connection closed without an answer");
    }
    // "HTTP/1.1 200 OK"
    let mut parts = line.split_whitespace();
    match (
        parts.next(),
        parts.next().and_then(|c| c.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ => bail!("not an HTTP answer: {:?}", line.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_is_probed_on_loopback() {
        assert_eq!(probe_addr("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(probe_addr("[::]:9000"), "[::1]:9000");
        assert_eq!(probe_addr("10.1.2.3:8080"), "10.1.2.3:8080");
    }

    #[test]
    fn status_of_a_tiny_server() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            for answer in [
                "HTTP/1.1 200 OK\r\n\r\n",
                "HTTP/1.1 503 Nope\r\n\r\n",
                "junk\r\n",
            ] {
                let (mut c, _) = l.accept().unwrap();
                // Read the whole head first: closing with unread bytes
                // would reset the connection before the answer arrives.
                let mut r = BufReader::new(&c);
                let mut req = String::new();
                r.read_line(&mut req).unwrap();
                assert_eq!(req, "GET /health/live HTTP/1.1\r\n");
                let mut line = String::new();
                while r.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                    line.clear();
                }
                c.write_all(answer.as_bytes()).unwrap();
            }
        });
        let url = format!("http://{addr}/health/live");
        let t5 = Duration::from_secs(5);
        assert_eq!(http_get_status(&url, t5).unwrap(), 200);
        assert_eq!(http_get_status(&url, t5).unwrap(), 503);
        assert!(http_get_status(&url, t5).is_err());
        t.join().unwrap();
        assert!(http_get_status("https://x/", t5).is_err());
    }
}
