//! The deployment files against the real binary:
//! - every metric name in the Grafana dashboard and the Prometheus alerts is
//!   one that `/metrics` exports after a job ran (API node and worker process);
//! - every setting is documented in the README table and `.env.example`;
//! - nginx's body limit matches Folio's upload limit;
//! - `folio backup` of a running service restores into a working service;
//! - `folio healthcheck`;
//! - the files pass their own validators (promtool, nginx -t, systemd-analyze,
//!   hadolint, docker-compose). scripts/test-setup.sh installs those; a
//!   missing tool fails the test unless FOLIO_SKIP_DEPLOY_TOOLS=1.

mod service_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use service_support::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn folio() -> Command {
    Command::new(env!("CARGO_BIN_EXE_folio"))
}

// ---------------------------------------------------------------------------
// PromQL: which metric names does an expression read?

/// Aggregation operators: followed by `by (...)`, `without (...)` or `(`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end",
];

/// Skip from an opening delimiter at `i` to just after its match, stepping
/// over quoted strings (which may hold the closing character).
fn skip_group(c: &[char], mut i: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    while i < c.len() {
        match c[i] {
            q @ ('"' | '\'' | '`') => {
                i = skip_string(c, i, q);
                continue;
            }
            x if x == open => depth += 1,
            x if x == close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!(
        "unbalanced {open}{close} in {:?}",
        c.iter().collect::<String>()
    )
}

fn skip_string(c: &[char], mut i: usize, q: char) -> usize {
    i += 1;
    while i < c.len() {
        if c[i] == '\\' && q != '`' {
            i += 2;
            continue;
        }
        if c[i] == q {
            return i + 1;
        }
        i += 1;
    }
    panic!("unterminated string in {:?}", c.iter().collect::<String>())
}

fn is_ident_start(ch: char) -> bool {
    ch.is_ascii_alphabetic() || ch == '_' || ch == ':'
}

fn is_ident(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_' || ch == ':'
}

/// The metric names an expression selects: identifiers outside label
/// matchers, ranges, strings and label lists that are neither functions,
/// aggregations nor keywords. Grafana variables (`$__rate_interval`) are
/// skipped.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let c: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if matches!(ch, '"' | '\'' | '`') {
            i = skip_string(&c, i, ch);
        } else if ch == '{' {
            i = skip_group(&c, i, '{', '}');
        } else if ch == '[' {
            i = skip_group(&c, i, '[', ']');
        } else if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '$' {
            i += 1;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
        } else if ch.is_ascii_digit()
            || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // Numbers and durations (0.95, 1e3, 5m, 0x1f).
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                i += 1;
            }
        } else if is_ident_start(ch) {
            let start = i;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let mut j = i;
            while j < c.len() && c[j].is_whitespace() {
                j += 1;
            }
            let next = c.get(j).copied();
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if next == Some('(') {
                    i = skip_group(&c, j, '(', ')');
                }
            } else if KEYWORDS.contains(&lower.as_str())
                || AGGREGATIONS.contains(&lower.as_str())
                || next == Some('(')
            {
                // Keyword, aggregation or function call.
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn promql_metric_names_are_found_and_nothing_else() {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.95, sum by (le, route) (rate(folio_http_request_duration_seconds_bucket{route!="/v1/jobs/{id}/events"}[$__rate_interval])))"#
        ),
        set(&["folio_http_request_duration_seconds_bucket"])
    );
    assert_eq!(
        metric_names(
            "sum(rate(a_total{status=~\"5..\", x='}'}[5m])) by (status) / ignoring(status) group_left(instance) sum without (le) (b) > bool 0.5 unless on(job) c offset 1h"
        ),
        set(&["a_total", "b", "c"])
    );
    assert_eq!(
        metric_names(
            "max(folio_queue_depth) > 0\n  unless sum(rate(folio_jobs_total[10m:1m])) > 0 # comment folio_x"
        ),
        set(&["folio_queue_depth", "folio_jobs_total"])
    );
    assert_eq!(metric_names("up{job=~\"folio.*\"} == 0"), set(&["up"]));
    assert_eq!(
        metric_names("sum(increase(x[$__range])) - 1e3 * .5"),
        set(&["x"])
    );
    assert_eq!(
        metric_names("topk(5, count_values(\"v\", y)) and vector(1)"),
        set(&["y"])
    );
}

// ---------------------------------------------------------------------------
// The expressions of the dashboard and the alert rules.

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_exprs(x, out)),
        _ => {}
    }
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read("deploy/grafana/folio.json")).expect("dashboard JSON")
}

fn dashboard_exprs() -> Vec<String> {
    let mut out = Vec::new();
    collect_exprs(&dashboard(), &mut out);
    out
}

#[derive(serde::Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(serde::Deserialize)]
struct RuleGroup {
    name: String,
    rules: Vec<Rule>,
}

#[derive(serde::Deserialize)]
struct Rule {
    alert: Option<String>,
    expr: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn alert_rules() -> Vec<Rule> {
    let f: RuleFile =
        serde_saphyr::from_str(&read("deploy/prometheus/alerts.yml")).expect("alerts.yml");
    assert!(f.groups.iter().all(|g| !g.name.is_empty()));
    f.groups.into_iter().flat_map(|g| g.rules).collect()
}

#[test]
fn dashboard_and_alerts_are_well_formed() {
    let d = dashboard();
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for p in panels {
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "duplicate id"
        );
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {} has no query", p["title"]);
        for t in targets {
            assert!(t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()));
            assert_eq!(t["datasource"]["uid"], "${datasource}");
        }
    }
    assert!(ids.len() >= 15, "{} panels", ids.len());
    let rules = alert_rules();
    let names: BTreeSet<_> = rules.iter().filter_map(|r| r.alert.clone()).collect();
    for want in [
        "FolioHighErrorRate",
        "FolioQueueBacklog",
        "FolioSlowJobs",
        "FolioNotReady",
    ] {
        assert!(names.contains(want), "alert {want} missing: {names:?}");
    }
    for r in &rules {
        assert!(r.labels.contains_key("severity"), "{:?}", r.alert);
        assert!(r.annotations.contains_key("summary"), "{:?}", r.alert);
    }
}

/// Names of the samples in a Prometheus text exposition.
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// Prometheus adds these to every scraped target.
const SYNTHETIC: &[&str] = &["up"];

#[test]
fn every_metric_in_the_dashboard_and_alerts_is_exported() {
    let Some(pdf) = corpus("dev/pdf/pdf20__Simple_PDF_2.0_file.pdf") else {
        return;
    };
    let input = std::fs::read(pdf).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[("FOLIO_WORKERS", "1")]);
    // One job, then the same again (a cache hit).
    for cache in ["miss", "hit"] {
        let r = s.post_form(
            "/v1/compress",
            &[],
            &[("file", "a.pdf", &input)],
            &[("level", "lossless")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-folio-cache"), Some(cache));
    }
    // Requests that are not job submissions, for the HTTP series.
    assert_eq!(s.get("/health/ready").status, 200);
    let text = s.get("/metrics").text();
    let have = exported(&text);
    assert!(text.contains("folio_ready 1"), "{text}");

    let mut used = BTreeMap::<String, Vec<String>>::new();
    let exprs: Vec<(String, String)> = dashboard_exprs()
        .into_iter()
        .map(|e| ("dashboard".to_string(), e))
        .chain(
            alert_rules()
                .into_iter()
                .map(|r| (format!("alert {}", r.alert.unwrap_or_default()), r.expr)),
        )
        .collect();
    for (origin, e) in &exprs {
        let names = metric_names(e);
        assert!(!names.is_empty(), "{origin}: no metric in {e:?}");
        for n in names {
            used.entry(n).or_default().push(origin.clone());
        }
    }
    let missing: Vec<_> = used
        .iter()
        .filter(|(n, _)| !have.contains(*n) && !SYNTHETIC.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "used but not exported by /metrics: {missing:?}\nexported: {have:?}"
    );
    // The dashboard covers what operators need (issue 8's list).
    let dash: BTreeSet<String> = dashboard_exprs()
        .iter()
        .flat_map(|e| metric_names(e))
        .collect();
    for want in [
        "folio_http_requests_total",
        "folio_http_request_duration_seconds_bucket",
        "folio_jobs_total",
        "folio_job_duration_seconds_bucket",
        "folio_queue_depth",
        "folio_queue_wait_seconds_bucket",
        "folio_compression_ratio_bucket",
        "folio_bytes_in_total",
        "folio_bytes_out_total",
        "folio_ready",
    ] {
        assert!(dash.contains(want), "the dashboard does not show {want}");
    }
}

// ---------------------------------------------------------------------------
// A worker-only process exports its job metrics on FOLIO_METRICS_LISTEN.

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn worker_process_exports_job_metrics_and_answers_healthchecks() {
    let Some(pdf) = corpus("dev/pdf/pdf20__Simple_PDF_2.0_file.pdf") else {
        return;
    };
    let input = std::fs::read(pdf).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let api = Server::start(&data, &[("FOLIO_WORKERS", "0")]);
    let mut child = folio()
        .args(["worker", "--data-dir"])
        .arg(&data)
        .env("FOLIO_WORKERS", "1")
        .env("FOLIO_METRICS_LISTEN", "127.0.0.1:0")
        .env("FOLIO_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut worker = Proc(child);
    let addr = line
        .trim()
        .strip_prefix("folio worker metrics on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();

    let r = api.post_form(
        "/v1/compress",
        &[],
        &[("file", "a.pdf", &input)],
        &[("level", "lossless")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let m = request(&addr, "GET", "/metrics", &[], None);
    assert_eq!(m.status, 200);
    let text = m.text();
    for want in [
        "folio_jobs_total{operation=\"compress\",outcome=\"succeeded\"} 1",
        "folio_queue_wait_seconds_bucket{operation=\"compress\"",
        "folio_compression_ratio_count 1",
        "folio_bytes_in_total{operation=\"compress\"}",
    ] {
        assert!(text.contains(want), "worker /metrics lacks {want}:\n{text}");
    }
    // The API process ran no job itself.
    let api_text = api.get("/metrics").text();
    assert!(!api_text.contains("folio_jobs_total{"), "{api_text}");
    assert!(api_text.contains("folio_ready 1"), "{api_text}");

    // `folio healthcheck`: the worker's URL, then the API's from FOLIO_LISTEN.
    let hc = |url: Option<&str>, listen: Option<&str>| {
        let mut c = folio();
        c.arg("healthcheck").current_dir(dir.path());
        if let Some(u) = url {
            c.args(["--url", u]);
        }
        if let Some(l) = listen {
            c.env("FOLIO_LISTEN", l);
        }
        c.output().unwrap()
    };
    let worker_url = format!("http://{addr}/health/live");
    assert!(hc(Some(&worker_url), None).status.success());
    assert!(hc(None, Some(&api.addr)).status.success());
    assert!(
        hc(Some(&format!("http://{}/nope", api.addr)), None)
            .status
            .code()
            .is_some_and(|c| c != 0)
    );
    let _ = worker.0.kill();
    let _ = worker.0.wait();
    let down = hc(Some(&worker_url), None);
    assert!(!down.status.success());
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("cannot connect"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}

// ---------------------------------------------------------------------------
// `folio backup` while the service runs, restored into a new service.

#[test]
fn backup_of_a_running_service_restores_its_jobs() {
    let Some(pdf) = corpus("dev/pdf/pdf20__Simple_PDF_2.0_file.pdf") else {
        return;
    };
    let input = std::fs::read(pdf).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start(&data, &[("FOLIO_WORKERS", "1")]);
    let r = s.post_form(
        "/v1/rotate",
        &[],
        &[("file", "a.pdf", &input)],
        &[("angle", "90")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.header("x-folio-job-id").unwrap().to_string();

    let out = dir.path().join("backup.db");
    let b = folio()
        .args(["backup", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&b.stdout);
    assert!(
        b.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert!(stdout.starts_with("backed up 1 jobs from "), "{stdout}");
    assert!(stdout.contains("integrity ok"), "{stdout}");
    // The service is still fine.
    assert_eq!(s.get("/health/ready").status, 200);

    // Never overwrites.
    let again = folio()
        .args(["backup", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // A new service on the copy knows the job.
    let url = format!("sqlite://{}", out.display());
    let restored = Server::start(
        &dir.path().join("restored"),
        &[("FOLIO_WORKERS", "0"), ("FOLIO_DATABASE_URL", &url)],
    );
    let j = restored.get(&format!("/v1/jobs/{id}"));
    assert_eq!(j.status, 200, "{}", j.text());
    assert_eq!(j.json()["status"], "succeeded");
}

// ---------------------------------------------------------------------------
// Settings: README table, .env.example and the config struct agree.

/// The effective default configuration, as `folio config` prints it.
fn default_config() -> serde_json::Map<String, serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut c = folio();
    c.arg("config").current_dir(dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("FOLIO_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut m = v.as_object().unwrap().clone();
    m.remove("workers_effective");
    m
}

/// `FOLIO_*` names: every field of the config struct, and every variable
/// config.rs reads by name (a `"FOLIO_..."` string literal).
fn settings() -> BTreeSet<String> {
    let mut s: BTreeSet<String> = default_config()
        .keys()
        .map(|k| format!("FOLIO_{}", k.to_ascii_uppercase()))
        .collect();
    s.extend(quoted_folio_names(&read("crates/folio/src/config.rs")));
    s
}

fn quoted_folio_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("\"FOLIO_") {
        let tail = &rest[i + 7..];
        let n = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if n > 0 {
            out.insert(format!("FOLIO_{}", &tail[..n]));
        }
        rest = &tail[n..];
    }
    out
}

/// Rows of the README's settings table: `| `FOLIO_X` | default | meaning |`.
fn readme_table() -> BTreeMap<String, String> {
    read("README.md")
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            let name = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            name.starts_with("FOLIO_").then(|| {
                (
                    name.to_string(),
                    cells.get(1).copied().unwrap_or("").to_string(),
                )
            })
        })
        .collect()
}

fn env_example() -> BTreeSet<String> {
    read(".env.example")
        .lines()
        .filter_map(|l| {
            let l = l.trim_start_matches('#').trim();
            let (name, _) = l.split_once('=')?;
            (name.starts_with("FOLIO_") && !name.contains(' ')).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn every_setting_is_documented_in_readme_and_env_example() {
    let settings = settings();
    assert!(settings.len() >= 20, "{settings:?}");
    let table = readme_table();
    let readme: BTreeSet<String> = table.keys().cloned().collect();
    let env = env_example();
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> Vec<String> {
        a.difference(b).cloned().collect()
    };
    assert!(
        only(&settings, &readme).is_empty() && only(&readme, &settings).is_empty(),
        "README settings table out of step with config.rs: missing {:?}, unknown {:?}",
        only(&settings, &readme),
        only(&readme, &settings)
    );
    assert!(
        only(&settings, &env).is_empty() && only(&env, &settings).is_empty(),
        ".env.example out of step with config.rs: missing {:?}, unknown {:?}",
        only(&settings, &env),
        only(&env, &settings)
    );
    // Defaults in the table are the struct's (scalars, as `folio config` prints them).
    for (k, v) in default_config() {
        let name = format!("FOLIO_{}", k.to_ascii_uppercase());
        let want = match &v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        let cell = &table[&name];
        assert!(
            cell.contains(&format!("`{want}`")),
            "README: default of {name} is `{want}`, the table says {cell:?}"
        );
    }
}

#[test]
fn nginx_body_limit_matches_folio_upload_limit() {
    let limit = default_config()["max_upload_bytes"].as_u64().unwrap();
    let conf = read("deploy/nginx.conf");
    let sizes: Vec<u64> = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("client_max_body_size "))
        .map(|v| {
            let v = v.trim_end_matches(';').trim();
            let (num, mult) = match v.chars().last() {
                Some('k' | 'K') => (&v[..v.len() - 1], 1u64 << 10),
                Some('m' | 'M') => (&v[..v.len() - 1], 1 << 20),
                Some('g' | 'G') => (&v[..v.len() - 1], 1 << 30),
                _ => (v, 1),
            };
            num.parse::<u64>().unwrap() * mult
        })
        .collect();
    assert!(
        !sizes.is_empty(),
        "no client_max_body_size in deploy/nginx.conf"
    );
    for s in sizes {
        // At least Folio's limit (Folio answers the 413 itself), at most 10 % more.
        assert!(
            s >= limit && s <= limit + limit / 10,
            "client_max_body_size {s} vs FOLIO_MAX_UPLOAD_BYTES {limit}"
        );
    }
    let compose = read("compose.yaml");
    assert!(
        compose.contains(&format!("${{FOLIO_MAX_UPLOAD_BYTES:-{limit}}}")),
        "compose.yaml's FOLIO_MAX_UPLOAD_BYTES default differs from {limit}"
    );
}

// ---------------------------------------------------------------------------
// External validators.

/// A validator on PATH or in ~/.cache/folio-tools/bin (scripts/test-setup.sh);
/// `None` (skip) only with FOLIO_SKIP_DEPLOY_TOOLS=1.
fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cache/folio-tools/bin"));
    }
    if let Some(p) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(p);
    }
    if std::env::var("FOLIO_SKIP_DEPLOY_TOOLS").as_deref() == Ok("1") {
        eprintln!("SKIPPING: {name} not found");
        return None;
    }
    panic!("{name} not found: run scripts/test-setup.sh (or FOLIO_SKIP_DEPLOY_TOOLS=1)");
}

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn prometheus_files_pass_promtool() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let dir = root().join("deploy/prometheus");
    let out = run_ok(
        Command::new(&promtool)
            .args(["check", "config", "prometheus.yml"])
            .current_dir(&dir),
    );
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run_ok(
        Command::new(&promtool)
            .args(["test", "rules", "alerts.test.yml"])
            .current_dir(&dir),
    );
    assert!(out.contains("SUCCESS"), "{out}");
    // The dashboard's queries parse: as recording rules, Grafana's range
    // variables replaced by a duration.
    let tmp = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let exprs = dashboard_exprs();
    for (i, e) in exprs.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "5m")
            .replace("$__range", "1h");
        rules.push_str(&format!(
            "      - record: dashboard:q{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        ));
    }
    let f = tmp.path().join("dashboard.yml");
    std::fs::write(&f, rules).unwrap();
    let out = run_ok(Command::new(&promtool).args(["check", "rules"]).arg(&f));
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{out}"
    );
}

/// deploy/nginx.conf in a temporary prefix with a throw-away certificate,
/// `upstream` as folio-upstream.conf and temp paths inside the prefix (the
/// compiled-in ones are system directories). With `ports`, the listeners
/// move to 127.0.0.1 on those ports (HTTP, HTTPS).
fn nginx_prefix(upstream: &str, ports: Option<(u16, u16)>) -> Option<tempfile::TempDir> {
    let openssl = tool("openssl")?;
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    std::fs::create_dir_all(p.join("certs")).unwrap();
    std::fs::create_dir_all(p.join("tmp")).unwrap();
    let mut conf = read("deploy/nginx.conf");
    if let Some((http, https)) = ports {
        conf = conf
            .lines()
            .filter(|l| !l.contains("listen [::]"))
            .map(|l| {
                l.replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
                    .replace("listen 443 ", &format!("listen 127.0.0.1:{https} "))
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(conf.contains(&format!("127.0.0.1:{https} ssl")), "{conf}");
    }
    std::fs::write(p.join("nginx.conf"), conf).unwrap();
    let mut up = upstream.to_string();
    for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        up.push_str(&format!("{t}_temp_path tmp/{t};\n"));
    }
    std::fs::write(p.join("folio-upstream.conf"), up).unwrap();
    run_ok(
        Command::new(openssl)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(p.join("certs/privkey.pem"))
            .arg("-out")
            .arg(p.join("certs/fullchain.pem")),
    );
    Some(tmp)
}

fn nginx_cmd(nginx: &Path, p: &Path, extra: &str) -> Command {
    let mut c = Command::new(nginx);
    c.arg("-p")
        .arg(format!("{}/", p.display()))
        .arg("-c")
        .arg(p.join("nginx.conf"))
        .arg("-g")
        .arg(format!("pid {}/nginx.pid;{extra}", p.display()));
    c
}

#[test]
fn nginx_conf_passes_nginx_t() {
    let Some(nginx) = tool("nginx") else {
        return;
    };
    let Some(tmp) = nginx_prefix(&read("deploy/nginx/upstream-local.conf"), None) else {
        return;
    };
    let out = run_ok(nginx_cmd(&nginx, tmp.path(), "").arg("-t"));
    assert!(out.contains("test is successful"), "{out}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `curl -sk` with `args`; returns (status of the last response, its
/// headers lower-cased, body).
fn curl(curl: &Path, args: &[&str]) -> (u16, Vec<(String, String)>, String) {
    let o = Command::new(curl)
        .args(["-sk", "--max-time", "60", "-D", "-"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no answer from curl {args:?}: {text}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn count(headers: &[(String, String)], name: &str) -> usize {
    headers.iter().filter(|(k, _)| k == name).count()
}

/// The real nginx with deploy/nginx.conf in front of a real `folio serve`.
#[test]
fn nginx_in_front_of_folio() {
    let Some(nginx) = tool("nginx") else {
        return;
    };
    let Some(curl_bin) = tool("curl") else {
        return;
    };
    let Some(pdf) = corpus("dev/pdf/pdf20__Simple_PDF_2.0_file.pdf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A small upload limit, to see Folio's own 413 through the proxy.
    let s = Server::start(
        &dir.path().join("data"),
        &[("FOLIO_WORKERS", "1"), ("FOLIO_MAX_UPLOAD_BYTES", "200000")],
    );
    let (http, https) = (free_port(), free_port());
    let upstream = format!(
        "upstream folio_api {{\n    server {};\n    keepalive 4;\n}}\n",
        s.addr
    );
    let Some(prefix) = nginx_prefix(&upstream, Some((http, https))) else {
        return;
    };
    let child = nginx_cmd(&nginx, prefix.path(), " daemon off; master_process off;")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _nginx = Proc(child);
    let base = format!("https://127.0.0.1:{https}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
        assert!(std::time::Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Through TLS, with the security headers exactly once each, and nginx's
    // request id handed to Folio and back.
    let (st, h, body) = curl(&curl_bin, &[&format!("{base}/health/live")]);
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("ok"));
    for name in [
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "x-request-id",
    ] {
        assert_eq!(count(&h, name), 1, "{name} in {h:?}");
    }
    // Plain HTTP is redirected.
    let (st, h, _) = curl(&curl_bin, &[&format!("http://127.0.0.1:{http}/docs")]);
    assert_eq!(st, 308);
    assert!(
        h.iter()
            .any(|(k, v)| k == "location" && v.starts_with("https://"))
    );
    // No metrics from outside.
    assert_eq!(curl(&curl_bin, &[&format!("{base}/metrics")]).0, 403);

    // An upload: streamed through, the result comes back.
    let form = format!("file=@{}", pdf.display());
    let (st, h, _) = curl(
        &curl_bin,
        &[
            "-o",
            "/dev/null",
            "-F",
            &form,
            "-F",
            "angle=90",
            &format!("{base}/v1/rotate"),
        ],
    );
    assert_eq!(st, 200);
    let id = h
        .iter()
        .find(|(k, _)| k == "x-folio-job-id")
        .map(|(_, v)| v.clone())
        .expect("job id header");
    // Its events, through the SSE location.
    let (st, h, body) = curl(&curl_bin, &["-N", &format!("{base}/v1/jobs/{id}/events")]);
    assert_eq!(st, 200);
    assert!(
        h.iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"))
    );
    assert!(body.contains("succeeded"), "{body}");
    // Too large for Folio (not for nginx): Folio's problem document.
    let big = dir.path().join("big.pdf");
    let mut bytes = std::fs::read(&pdf).unwrap();
    bytes.resize(300_000, b' ');
    std::fs::write(&big, bytes).unwrap();
    let (st, h, body) = curl(
        &curl_bin,
        &[
            "-F",
            &format!("file=@{}", big.display()),
            &format!("{base}/v1/compress"),
        ],
    );
    assert_eq!(st, 413, "{body}");
    assert!(
        h.iter()
            .any(|(k, v)| k == "content-type" && v == "application/problem+json"),
        "{h:?}"
    );

    // Reads: 100/s with a burst of 200 per client, then 429.
    let url = format!("{base}/health/live");
    // (-w applies to every URL, bodies go to stdout too: look for the tag.)
    let mut args = vec!["-w", "\ncode=%{http_code}\n"];
    for _ in 0..320 {
        args.push(&url);
    }
    let o = Command::new(&curl_bin)
        .arg("-sk")
        .args(&args)
        .output()
        .unwrap();
    let codes = String::from_utf8_lossy(&o.stdout);
    let limited = codes.lines().filter(|c| *c == "code=429").count();
    let ok = codes.lines().filter(|c| *c == "code=200").count();
    assert_eq!(limited + ok, 320, "{codes}");
    assert!(
        ok >= 200 && limited >= 50,
        "{ok} answered, {limited} limited"
    );
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let Some(sa) = tool("systemd-analyze") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for u in ["folio.service", "folio-worker.service"] {
        let text = read(&format!("deploy/systemd/{u}"));
        for want in [
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/folio",
            "NoNewPrivileges=yes",
            "MemoryMax=",
            "PrivateTmp=yes",
            "EnvironmentFile=",
            "DynamicUser=yes",
        ] {
            assert!(text.contains(want), "{u} lacks {want}");
        }
        // verify checks that ExecStart exists: point it at the built binary.
        let text = text.replace("/usr/local/bin/folio", env!("CARGO_BIN_EXE_folio"));
        let path = tmp.path().join(u);
        std::fs::write(&path, text).unwrap();
        units.push(path);
    }
    let o = Command::new(sa)
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.trim().is_empty(), "{err}");
}

#[test]
fn dockerfile_passes_hadolint() {
    let Some(hadolint) = tool("hadolint") else {
        return;
    };
    run_ok(Command::new(hadolint).arg(root().join("Dockerfile")));
    let df = read("Dockerfile");
    for want in ["HEALTHCHECK", "USER 10001", "VOLUME", "EXPOSE 8080", "nasm"] {
        assert!(df.contains(want), "Dockerfile lacks {want}");
    }
}

#[test]
fn compose_file_passes_docker_compose_config() {
    let Some(dc) = tool("docker-compose") else {
        return;
    };
    let out = run_ok(
        Command::new(dc)
            .args(["-f", "compose.yaml", "--profile", "monitoring", "config"])
            .current_dir(root())
            .env("POSTGRES_PASSWORD", "pw")
            .env("S3_SECRET_KEY", "secret")
            .env("GRAFANA_PASSWORD", "pw"),
    );
    for svc in [
        "api:",
        "worker:",
        "migrate:",
        "postgres:",
        "redis:",
        "minio:",
        "createbucket:",
        "nginx:",
        "prometheus:",
        "grafana:",
    ] {
        assert!(
            out.contains(&format!("\n  {svc}")),
            "service {svc} missing:\n{out}"
        );
    }
    assert!(out.contains("replicas: 2"), "{out}");
}
