//! Security behaviour of the real `folio serve` over HTTP: API keys and job
//! visibility, rate limits, response headers, CORS, request deadlines,
//! download names, sanitizing.

mod service_support;

use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use service_support::*;

const WAIT: Duration = Duration::from_secs(120);

fn pdf(name: &str) -> Option<Vec<u8>> {
    corpus(&format!("dev/pdf/{name}")).map(|p| std::fs::read(p).unwrap())
}

fn small_pdf() -> Option<Vec<u8>> {
    pdf("pdf20__Simple_PDF_2.0_file.pdf")
}

/// `folio keys create` against `data`; returns (id, secret).
fn create_key(data: &Path, name: &str, extra: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["keys", "create", "--json", "--name", name, "--data-dir"])
        .arg(data)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["id"].as_str().unwrap().to_string(),
        v["key"].as_str().unwrap().to_string(),
    )
}

fn get_with(s: &Server, path: &str, headers: &[(&str, &str)]) -> Resp {
    request(&s.addr, "GET", path, headers, None)
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[test]
fn keys_see_only_their_jobs_and_admins_see_all() {
    let Some(input) = small_pdf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (a_id, a) = create_key(&data, "alice", &[]);
    let (_b_id, b) = create_key(&data, "bob", &[]);
    let (_admin_id, admin) = create_key(&data, "ops", &["--admin"]);
    // Only hashes are stored: the secret does not appear in the database.
    let db = std::fs::read(data.join("folio.db")).unwrap();
    assert!(!db.windows(a.len()).any(|w| w == a.as_bytes()));

    let s = Server::start(&data, &[("FOLIO_AUTH", "required")]);
    // No key: 401 problem with a challenge; health and docs stay open.
    let r = s.post_form(
        "/v1/compress",
        &[],
        &[("file", "a.pdf", input.as_slice())],
        &[],
    );
    r.problem(401, "unauthorized");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    s.get("/v1/jobs/anything").problem(401, "unauthorized");
    get_with(&s, "/v1/jobs/x", &[("authorization", "Bearer folio_nope")])
        .problem(401, "invalid_api_key");
    assert_eq!(s.get("/health/ready").status, 200);
    assert_eq!(s.get("/openapi.json").status, 200);

    // Alice submits (X-API-Key), sees her job.
    let ha = bearer(&a);
    let r = s.post_form(
        "/v1/compress",
        &[("x-api-key", &a), ("prefer", "respond-async")],
        &[("file", "a.pdf", input.as_slice())],
        &[("level", "lossless")],
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    // Job ids are UUIDv7: time-ordered but with 74 random bits, never a counter.
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "7", "{id}");
    let t = Instant::now();
    loop {
        let r = get_with(&s, &format!("/v1/jobs/{id}"), &[("authorization", &ha)]);
        assert_eq!(r.status, 200, "{}", r.text());
        if r.json()["status"] == "succeeded" {
            break;
        }
        assert_ne!(r.json()["status"], "failed", "{}", r.text());
        assert!(t.elapsed() < WAIT);
        std::thread::sleep(Duration::from_millis(100));
    }
    let hb = bearer(&b);
    // Bob: every view of Alice's job is "no such job", exactly like a random id.
    for path in [
        format!("/v1/jobs/{id}"),
        format!("/v1/jobs/{id}/result"),
        format!("/v1/jobs/{id}/events"),
        "/v1/jobs/0190c7a0-0000-7000-8000-000000000000".to_string(),
    ] {
        get_with(&s, &path, &[("authorization", &hb)]).problem(404, "not_found");
    }
    request(
        &s.addr,
        "DELETE",
        &format!("/v1/jobs/{id}"),
        &[("authorization", &hb)],
        None,
    )
    .problem(404, "not_found");
    // The same upload by Bob is not answered from Alice's cached result.
    let r = s.post_form(
        "/v1/compress",
        &[("authorization", &hb), ("prefer", "respond-async")],
        &[("file", "a.pdf", input.as_slice())],
        &[("level", "lossless")],
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_ne!(r.json()["id"].as_str().unwrap(), id);
    // Alice gets her result; the admin sees the job too.
    let r = get_with(
        &s,
        &format!("/v1/jobs/{id}/result"),
        &[("authorization", &ha)],
    );
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"%PDF-"));
    let r = get_with(
        &s,
        &format!("/v1/jobs/{id}"),
        &[("authorization", &bearer(&admin))],
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Revoked: the key stops working at once (no restart).
    let out = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["keys", "revoke", &a_id, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    get_with(&s, &format!("/v1/jobs/{id}"), &[("authorization", &ha)])
        .problem(401, "invalid_api_key");
    let list = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["keys", "list", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains(&format!("{a_id}\tuser\trevoked\talice")),
        "{list}"
    );
    assert!(!list.contains(&a), "secrets are never listed");
}

#[test]
fn anonymous_callers_do_not_see_keyed_jobs() {
    let Some(input) = small_pdf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, a) = create_key(&data, "alice", &[]);
    let s = Server::start(&data, &[("FOLIO_WORKERS", "0")]);
    let r = s.post_form(
        "/v1/compress",
        &[("x-api-key", &a), ("prefer", "respond-async")],
        &[("file", "a.pdf", input.as_slice())],
        &[],
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    // FOLIO_AUTH=off: anonymous requests work, but only on anonymous jobs.
    s.get(&format!("/v1/jobs/{id}")).problem(404, "not_found");
    let r = s.post_form(
        "/v1/compress",
        &[("prefer", "respond-async")],
        &[("file", "a.pdf", input.as_slice())],
        &[],
    );
    assert_eq!(r.status, 202);
    let anon = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(s.get(&format!("/v1/jobs/{anon}")).status, 200);
    get_with(&s, &format!("/v1/jobs/{anon}"), &[("x-api-key", &a)]).problem(404, "not_found");
}

#[test]
fn reads_are_rate_limited_with_headers() {
    let (_d, s) = {
        let dir = tempfile::tempdir().unwrap();
        let s = Server::start(
            &dir.path().join("data"),
            &[("FOLIO_RATE_LIMIT_READS", "1/min,burst=3")],
        );
        (dir, s)
    };
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = s.get("/v1/jobs/nope");
        r.problem(404, "not_found");
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        remaining.push(r.header("ratelimit-remaining").unwrap().to_string());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let r = s.get("/v1/jobs/nope");
    let p = r.problem(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(p["retry_after"], retry);
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    assert!(r.header("ratelimit-reset").is_some());
    // Probes are never limited.
    for _ in 0..5 {
        assert_eq!(s.get("/health/live").status, 200);
    }
}

#[test]
fn x_forwarded_for_is_believed_only_from_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    // 127.0.0.1 is the proxy: each X-Forwarded-For address gets its own bucket.
    let s = Server::start(
        &dir.path().join("data"),
        &[
            ("FOLIO_RATE_LIMIT_READS", "1/min,burst=1"),
            ("FOLIO_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    );
    let xff = |ip: &str| get_with(&s, "/v1/jobs/x", &[("x-forwarded-for", ip)]);
    assert_eq!(xff("198.51.100.1").status, 404);
    assert_eq!(xff("198.51.100.1").status, 429);
    assert_eq!(
        xff("198.51.100.2").status,
        404,
        "another client, another bucket"
    );
    // Untrusted peer: the header is ignored, everyone shares the peer's bucket.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Server::start(
        &dir2.path().join("data"),
        &[("FOLIO_RATE_LIMIT_READS", "1/min,burst=1")],
    );
    let xff2 = |ip: &str| get_with(&s2, "/v1/jobs/x", &[("x-forwarded-for", ip)]);
    assert_eq!(xff2("198.51.100.1").status, 404);
    assert_eq!(
        xff2("198.51.100.2").status,
        429,
        "a client cannot pick its bucket"
    );
}

#[test]
fn per_key_upload_rate_and_job_cap() {
    let Some(input) = small_pdf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, slow) = create_key(&data, "slow", &["--rate-limit-uploads", "1/h,burst=1"]);
    let (_, capped) = create_key(&data, "capped", &["--max-concurrent-jobs", "1"]);
    // No workers: jobs stay queued, so the cap is reached.
    let s = Server::start(&data, &[("FOLIO_WORKERS", "0")]);
    let post = |key: &str| {
        s.post_form(
            "/v1/compress",
            &[("x-api-key", key), ("prefer", "respond-async")],
            &[("file", "a.pdf", input.as_slice())],
            &[],
        )
    };
    assert_eq!(post(&slow).status, 202);
    let r = post(&slow);
    r.problem(429, "rate_limited");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 60);
    // The capped key has the default (generous) rate but one job at a time.
    assert_eq!(post(&capped).status, 202);
    let r = post(&capped);
    let p = r.problem(429, "too_many_jobs");
    assert_eq!(p["limit"], 1);
    // Reads of the slow key are not affected by its upload budget.
    assert_eq!(
        get_with(&s, "/v1/jobs/x", &[("x-api-key", &slow)]).status,
        404
    );
}

fn assert_common_headers(r: &Resp) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[test]
fn security_headers_on_every_response() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &[("FOLIO_TRUSTED_PROXIES", "127.0.0.1")],
    );
    for path in ["/health/live", "/v1/jobs/nope", "/openapi.json", "/nowhere"] {
        let r = s.get(path);
        assert_common_headers(&r);
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .starts_with("default-src 'none'"),
            "{path}"
        );
        assert!(r.header("strict-transport-security").is_none(), "{path}");
    }
    // The docs page: its own policy, inline code allowed by hash only.
    let r = s.get("/docs");
    assert_common_headers(&r);
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // HSTS when a trusted proxy says the request came over TLS.
    let r = get_with(&s, "/health/live", &[("x-forwarded-proto", "https")]);
    assert!(
        r.header("strict-transport-security")
            .unwrap()
            .contains("max-age=")
    );
    // ... or always with FOLIO_HSTS.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Server::start(&dir2.path().join("data"), &[("FOLIO_HSTS", "true")]);
    assert!(
        s2.get("/health/live")
            .header("strict-transport-security")
            .is_some()
    );
    // Without a trusted proxy the header is not believed.
    let r = get_with(&s2, "/health/live", &[("x-forwarded-proto", "https")]);
    assert!(r.header("strict-transport-security").is_some());
    let dir3 = tempfile::tempdir().unwrap();
    let s3 = Server::start(&dir3.path().join("data"), &[]);
    let r = get_with(&s3, "/health/live", &[("x-forwarded-proto", "https")]);
    assert!(r.header("strict-transport-security").is_none());
}

#[test]
fn cors_only_for_allowed_origins() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &[(
            "FOLIO_ALLOWED_ORIGINS",
            "https://app.example.com, https://other.example",
        )],
    );
    let r = get_with(&s, "/v1/jobs/x", &[("origin", "https://app.example.com")]);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(r.header("access-control-allow-credentials").is_none());
    let r = get_with(&s, "/v1/jobs/x", &[("origin", "https://evil.example")]);
    assert!(r.header("access-control-allow-origin").is_none());
    // Preflight.
    let r = request(
        &s.addr,
        "OPTIONS",
        "/v1/compress",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization"),
        ],
        None,
    );
    assert!(r.status < 300, "{}", r.status);
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase()
            .contains("authorization")
    );
    // No origins configured: no CORS at all.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Server::start(&dir2.path().join("data"), &[]);
    let r = get_with(&s2, "/v1/jobs/x", &[("origin", "https://app.example.com")]);
    assert!(r.header("access-control-allow-origin").is_none());
}

#[test]
fn slow_bodies_get_408_and_the_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &[("FOLIO_BODY_TIMEOUT", "1s"), ("FOLIO_WORKERS", "0")],
    );
    let (ct, body) = multipart(
        &[("file", "a.pdf", b"%PDF-1.4\n".repeat(1000).as_slice())],
        &[],
    );
    let mut c = connect(&s.addr);
    write!(
        c,
        "POST /v1/compress HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // Half the body, then silence.
    c.write_all(&body[..body.len() / 2]).unwrap();
    let t = Instant::now();
    let mut rd = BufReader::new(c.try_clone().unwrap());
    let r = read_response(&mut rd);
    r.problem(408, "request_timeout");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(r.header("connection"), Some("close"));
    let mut rest = Vec::new();
    let n = rd.read_to_end(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "the server closed the connection");
    // Nothing of the aborted upload was kept.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.get("/health/ready").status, 200);
}

#[test]
fn slow_and_oversized_headers_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[("FOLIO_HEADER_TIMEOUT", "1s")]);
    // Slowloris: a request line, then nothing.
    let mut c = connect(&s.addr);
    c.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "connection held {:?}",
        t.elapsed()
    );
    // Huge header: refused (431), the server keeps serving.
    let big = "a".repeat(100 * 1024);
    let mut c = connect(&s.addr);
    let _ = write!(
        c,
        "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
    );
    let mut head = String::new();
    let _ = BufReader::new(c).read_line_lossy(&mut head);
    assert!(head.is_empty() || head.contains(" 431 "), "{head:?}");
    assert_eq!(s.get("/health/live").status, 200);
}

trait ReadLineLossy {
    fn read_line_lossy(&mut self, out: &mut String) -> std::io::Result<usize>;
}

impl<R: Read> ReadLineLossy for BufReader<R> {
    fn read_line_lossy(&mut self, out: &mut String) -> std::io::Result<usize> {
        let mut buf = Vec::new();
        let n = std::io::BufRead::read_until(self, b'\n', &mut buf)?;
        out.push_str(&String::from_utf8_lossy(&buf));
        Ok(n)
    }
}

#[test]
fn download_names_are_sanitized() {
    let Some(input) = small_pdf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let r = s.post_form(
        "/v1/rotate",
        &[],
        &[(
            "file",
            "..\\..\\x\";y=1 r\u{e9}sum\u{e9}.pdf",
            input.as_slice(),
        )],
        &[("angle", "90")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cd = r.header("content-disposition").unwrap();
    assert!(cd.starts_with("attachment; filename=\""), "{cd}");
    assert!(cd.contains("filename*=UTF-8''"), "{cd}");
    assert_eq!(cd.matches('"').count(), 2, "{cd}");
    assert!(
        !cd.contains('\\') && !cd.contains('/') && !cd.contains(".."),
        "{cd}"
    );
    assert!(cd.contains("-rotated.pdf"), "{cd}");
}

#[test]
fn sanitize_over_http_and_forced_by_the_server() {
    let Some(js) = corpus("pdfjs/issue6106.pdf").map(|p| std::fs::read(p).unwrap()) else {
        return;
    };
    let sanitized = |s: &Server, fields: &[(&str, &str)]| -> serde_json::Value {
        let r = s.post_form(
            "/v1/compress",
            &[("prefer", "respond-async")],
            &[("file", "js.pdf", js.as_slice())],
            fields,
        );
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_string();
        let job = s.wait_job(&id, WAIT);
        assert_eq!(job["status"], "succeeded", "{job}");
        job["report"]["details"]["sanitized"].clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let d = sanitized(&s, &[("level", "lossless"), ("sanitize", "true")]);
    assert!(d["javascript"].as_u64().unwrap() >= 1, "{d}");
    assert!(sanitized(&s, &[("level", "lossless")]).is_null());
    s.post_form(
        "/v1/compress",
        &[],
        &[("file", "js.pdf", js.as_slice())],
        &[("sanitize", "perhaps")],
    )
    .problem(400, "invalid_options");
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Server::start(
        &dir2.path().join("data"),
        &[("FOLIO_FORCE_SANITIZE", "true")],
    );
    let d = sanitized(&s2, &[("level", "lossless")]);
    assert!(d["javascript"].as_u64().unwrap() >= 1, "{d}");
}
