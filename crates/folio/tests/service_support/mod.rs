//! Helpers for the service tests: start the real `folio serve` binary on a
//! free port with a temporary data directory, and a small blocking HTTP/1.1
//! client (raw sockets, so tests control exactly what is sent and when).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
}

impl Server {
    /// Start `folio serve` on `127.0.0.1:0` with `data` as its data dir.
    pub fn start(data: &Path, env: &[(&str, &str)]) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_folio"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("FOLIO_LOG_FORMAT", "json")
            .env("FOLIO_WORKERS", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start folio serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("folio listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server {
            child,
            addr,
            data: data.to_path_buf(),
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        request(&self.addr, "GET", path, &[], None)
    }

    pub fn delete(&self, path: &str) -> Resp {
        request(&self.addr, "DELETE", path, &[], None)
    }

    /// POST a multipart form: `files` as (field, filename, bytes), `fields` as (name, value).
    pub fn post_form(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
        fields: &[(&str, &str)],
    ) -> Resp {
        let (ct, body) = multipart(files, fields);
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        h.push(("content-type", &ct));
        request(&self.addr, "POST", path, &h, Some(&body))
    }

    /// Poll the job until it is terminal (or panic after `timeout`).
    pub fn wait_job(&self, id: &str, timeout: Duration) -> serde_json::Value {
        let t = Instant::now();
        loop {
            let r = self.get(&format!("/v1/jobs/{id}"));
            assert_eq!(r.status, 200, "{}", r.text());
            let j = r.json();
            if matches!(
                j["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return j;
            }
            assert!(
                t.elapsed() < timeout,
                "job {id} not finished after {timeout:?}: {j}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe_kill(self.child.id(), 15);
        self.child.wait().unwrap()
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn multipart(files: &[(&str, &str, &[u8])], fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "folio-test-boundary-7d1e";
    let mut body = Vec::new();
    for (name, value) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .unwrap();
    }
    for (field, filename, bytes) in files {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// Assert a problem document with this status and code; return it.
    pub fn problem(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let j = self.json();
        assert_eq!(j["code"], code, "{j}");
        assert_eq!(j["status"], status);
        assert!(j["detail"].as_str().is_some_and(|d| !d.is_empty()));
        j
    }
}

pub fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let mut s = connect(addr);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        s.write_all(b).unwrap();
    }
    read_response(&mut BufReader::new(s))
}

/// Read status line and headers.
pub fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        // Skip interim 1xx responses.
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        if (100..200).contains(&status) {
            continue;
        }
        return (status, headers);
    }
}

pub fn read_response(r: &mut impl BufRead) -> Resp {
    let (status, headers) = read_head(r);
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while let Some(chunk) = read_chunk(r) {
            body.extend_from_slice(&chunk);
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body).unwrap();
    } else {
        r.read_to_end(&mut body).unwrap();
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// One chunk of a chunked body; `None` at the end.
pub fn read_chunk(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut size = String::new();
    if r.read_line(&mut size).ok()? == 0 {
        return None;
    }
    let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).ok()?;
    if n == 0 {
        let mut end = String::new();
        let _ = r.read_line(&mut end);
        return None;
    }
    let mut buf = vec![0u8; n + 2];
    r.read_exact(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Find a corpus file under ../shared/corpus/<sub>; `None` (skip) only when
/// FOLIO_ALLOW_NO_CORPUS=1.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for d in here.ancestors() {
        let p = d.join("shared/corpus").join(sub);
        if p.is_file() {
            return Some(p);
        }
    }
    if std::env::var("FOLIO_ALLOW_NO_CORPUS").as_deref() == Ok("1") {
        eprintln!("SKIPPING: corpus file {sub} not found");
        return None;
    }
    panic!("corpus file {sub} not found above {}", here.display());
}

/// qpdf --check on bytes.
pub fn qpdf_ok(bytes: &[u8]) -> bool {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    Command::new("qpdf")
        .arg("--check")
        .arg(f.path())
        .output()
        .map(|o| o.status.success() || o.status.code() == Some(3))
        .unwrap_or(false)
}

/// Files under `dir` (recursively).
pub fn count_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}
