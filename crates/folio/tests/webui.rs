//! The web UI and the admin API, over HTTP against the real `folio serve`.
//! (The browser-level tests are in `e2e/`, driven by headless Chromium.)

mod service_support;

use std::time::Duration;

use service_support::*;

const WAIT: Duration = Duration::from_secs(120);

fn server(env: &[(&str, &str)]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), env);
    (dir, s)
}

/// The CSP every UI page and asset carries: nothing inline, nothing foreign.
fn assert_strict_csp(r: &Resp, what: &str) {
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    for d in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(d), "{what}: CSP lacks {d}: {csp}");
    }
    assert!(
        !csp.contains("unsafe"),
        "{what}: CSP allows unsafe code: {csp}"
    );
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
}

#[test]
fn pages_and_assets_are_served_from_the_binary() {
    let (_d, s) = server(&[]);
    for (path, script) in [("/", "/ui/app.js"), ("/admin", "/ui/admin.js")] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert_strict_csp(&r, path);
        let html = r.text();
        assert!(
            html.contains(&format!("<script src=\"{script}\"")),
            "{path}"
        );
        assert!(html.contains("/ui/style.css"), "{path}");
        // The API key panel, for servers with FOLIO_AUTH=required.
        assert!(html.contains("<script src=\"/ui/key.js\""), "{path}");
        assert!(html.contains("<label for=\"api-key\""), "{path}");
        // Under the CSP an inline script or style would not run: there must be none.
        for piece in html.split("<script").skip(1) {
            let tag_end = piece.find('>').unwrap();
            assert!(piece[..tag_end].contains("src="), "{path}: inline script");
            assert!(piece[tag_end + 1..].starts_with("</script>"), "{path}");
        }
        assert!(
            !html.contains("<style") && !html.contains(" style="),
            "{path}: inline style"
        );
        assert!(
            !html.contains("https://") && !html.contains("http://"),
            "{path}: loads from the network"
        );
    }
    let index = s.get("/").text();
    for needle in [
        "type=\"file\"",
        "<label for=\"files\"",
        "aria-live=\"polite\"",
        "<label for=\"operation\"",
        "name=\"viewport\"",
    ] {
        assert!(index.contains(needle), "index lacks {needle}");
    }
    for op in [
        "compress",
        "merge",
        "images-to-pdf",
        "split",
        "rotate",
        "text",
        "render",
    ] {
        assert!(index.contains(&format!("<option value=\"{op}\"")), "{op}");
    }
    for (path, ct) in [
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/admin.js", "text/javascript; charset=utf-8"),
        ("/ui/key.js", "text/javascript; charset=utf-8"),
        ("/ui/style.css", "text/css; charset=utf-8"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ct), "{path}");
        assert_strict_csp(&r, path);
        assert!(
            !r.text().contains("https://"),
            "{path} loads from the network"
        );
    }
    // The pages are not assets, and nothing else is.
    s.get("/ui/index.html").problem(404, "not_found");
    s.get("/ui/../Cargo.toml").problem(404, "not_found");
    s.get("/ui/secret.js").problem(404, "not_found");
}

#[test]
fn admin_stats_reflect_a_finished_and_a_failed_job() {
    let Some(path) = corpus("dev/pdf/pdf20__Simple_PDF_2.0_file.pdf") else {
        return;
    };
    let pdf = std::fs::read(path).unwrap();
    let (_d, s) = server(&[]);
    let empty = s.get("/v1/admin/stats?window=600").json();
    assert_eq!(empty["window_seconds"], 600);
    assert_eq!(empty["jobs"]["finished"], 0);
    assert_eq!(empty["storage"]["bytes"], 0);
    assert_eq!(
        empty["jobs"]["finished_per_minute"]
            .as_array()
            .unwrap()
            .len(),
        10
    );

    let ok = s.post_form(
        "/v1/rotate",
        &[],
        &[("file", "a.pdf", &pdf)],
        &[("angle", "90")],
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let out_bytes = ok.body.len() as u64;
    // Starts like a PDF, so it is accepted, then fails in the engine.
    let junk = b"%PDF-1.7\nthis is not a PDF body at all\n".repeat(10);
    let bad = s.post_form(
        "/v1/compress",
        &[("prefer", "respond-async")],
        &[("file", "junk.pdf", &junk)],
        &[],
    );
    assert_eq!(bad.status, 202, "{}", bad.text());
    let bad_id = bad.json()["id"].as_str().unwrap().to_string();
    let job = s.wait_job(&bad_id, WAIT);
    assert_eq!(job["status"], "failed", "{job}");
    let code = job["error"]["code"].as_str().unwrap().to_string();

    let st = s.get("/v1/admin/stats?window=600");
    assert_eq!(st.status, 200, "{}", st.text());
    let st = st.json();
    assert_eq!(st["queue"]["queued"], 0, "{st}");
    assert_eq!(st["queue"]["running"], 0, "{st}");
    assert_eq!(st["jobs"]["submitted"], 2, "{st}");
    assert_eq!(st["jobs"]["succeeded"], 1, "{st}");
    assert_eq!(st["jobs"]["failed"], 1, "{st}");
    assert_eq!(st["jobs"]["finished"], 2, "{st}");
    let per_minute: u64 = st["jobs"]["finished_per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_minute, 2, "{st}");
    assert_eq!(st["jobs"]["per_minute"], 0.2, "2 jobs in 10 minutes: {st}");
    assert_eq!(st["failures"]["by_code"][0]["code"], code.as_str(), "{st}");
    assert_eq!(st["failures"]["by_code"][0]["count"], 1, "{st}");
    assert_eq!(st["failures"]["recent"][0]["id"], bad_id.as_str(), "{st}");
    assert_eq!(st["failures"]["recent"][0]["operation"], "compress");
    assert_eq!(
        st["storage"]["bytes"].as_u64().unwrap(),
        pdf.len() as u64 + out_bytes + junk.len() as u64,
        "both inputs and the one result: {st}"
    );
    assert_eq!(st["storage"]["jobs"], 2);

    let jobs = s.get("/v1/admin/jobs").json();
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["id"], bad_id.as_str(), "newest first");
    assert_eq!(jobs[1]["operation"], "rotate");
    let failed = s.get("/v1/admin/jobs?state=failed&limit=5").json();
    assert_eq!(failed["jobs"].as_array().unwrap().len(), 1);
    let one = s.get("/v1/admin/jobs?limit=1").json();
    assert_eq!(one["jobs"].as_array().unwrap().len(), 1);

    s.get("/v1/admin/jobs?state=done")
        .problem(400, "invalid_options");
    s.get("/v1/admin/jobs?limit=lots")
        .problem(400, "invalid_options");
    s.get("/v1/admin/stats?window=an-hour")
        .problem(400, "invalid_options");
    // Out-of-range windows are clamped, not refused.
    assert_eq!(
        s.get("/v1/admin/stats?window=1").json()["window_seconds"],
        60
    );
}

#[test]
fn admin_sees_a_queued_job_and_cancels_it() {
    let Some(path) = corpus("dev/pdf/pdf20__Simple_PDF_2.0_file.pdf") else {
        return;
    };
    let pdf = std::fs::read(path).unwrap();
    // No workers: the job stays queued until cancelled.
    let (_d, s) = server(&[("FOLIO_WORKERS", "0")]);
    let r = s.post_form(
        "/v1/compress",
        &[("prefer", "respond-async")],
        &[("file", "a.pdf", &pdf)],
        &[],
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let st = s.get("/v1/admin/stats").json();
    assert_eq!(st["window_seconds"], 3600, "default window");
    assert_eq!(st["queue"]["queued"], 1, "{st}");
    assert_eq!(st["storage"]["bytes"], pdf.len() as u64);
    let queued = s.get("/v1/admin/jobs?state=queued").json();
    assert_eq!(queued["jobs"][0]["id"], id.as_str());

    let c = s.delete(&format!("/v1/jobs/{id}"));
    assert_eq!(c.status, 200, "{}", c.text());
    assert_eq!(c.json()["status"], "cancelled");
    let st = s.get("/v1/admin/stats").json();
    assert_eq!(st["queue"]["queued"], 0, "{st}");
    assert_eq!(st["jobs"]["cancelled"], 1, "{st}");
    assert_eq!(
        st["storage"]["bytes"], 0,
        "cancelling deletes the files: {st}"
    );
    assert!(
        s.get("/v1/admin/jobs?state=queued").json()["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
