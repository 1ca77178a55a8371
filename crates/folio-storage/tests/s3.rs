//! S3Storage against a real S3-compatible server (moto, started per test on a
//! free port): the shared storage suite, nothing left behind by refused
//! uploads, presigned downloads, prefixes. `FOLIO_SKIP_S3=1` skips.

use folio_storage::testing::{MotoServer, skip};
use folio_storage::{S3Storage, Storage, suite};

fn storage(moto: &MotoServer, url: &str) -> S3Storage {
    let settings = moto.settings();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    S3Storage::from_url_with(url, &pairs).unwrap()
}

macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if skip() {
                return;
            }
            let moto = MotoServer::start();
            moto.create_bucket("suite");
            let s = storage(&moto, "s3://suite/jobs");
            suite::$name(&s).await;
            // Whatever the case did, refused or deleted uploads left nothing.
            assert_eq!(s.list_keys().await.unwrap(), Vec::<String>::new());
        }
    )*};
}

suite_tests!(
    limit_and_body_errors,
    keys_are_never_paths,
    large_streamed_bodies,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_range_delete() {
    if skip() {
        return;
    }
    let moto = MotoServer::start();
    moto.create_bucket("suite");
    let s = storage(&moto, "s3://suite/jobs");
    suite::put_get_range_delete(&s).await;
    suite::put_file_roundtrip(&s).await;
    // Objects live under the prefix, named by their key.
    let keys = s.list_keys().await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("jobs/"), "{keys:?}");
    assert_eq!(keys[0].len(), "jobs/".len() + 32);
    // The same key is not visible under another prefix of the bucket.
    let other = storage(&moto, "s3://suite/elsewhere");
    assert!(other.list_keys().await.unwrap().is_empty());
}

/// A presigned URL downloads the object with no credentials, as an
/// attachment with the given name and type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_download() {
    if skip() {
        return;
    }
    let moto = MotoServer::start();
    moto.create_bucket("signed");
    let s = storage(&moto, "s3://signed");
    let body: folio_storage::ByteStream = Box::pin(futures_util::stream::iter(vec![Ok(
        bytes::Bytes::from_static(b"%PDF-1.7 signed"),
    )]));
    let st = s.put(body, None).await.unwrap();
    let url = s
        .presigned_get(
            &st.key,
            "report-compressed.pdf",
            "application/pdf",
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap()
        .expect("S3 storage presigns");
    assert!(url.starts_with(&moto.endpoint), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let out = std::process::Command::new("curl")
        .args(["-s", "-D", "-", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(
        lower.contains("content-disposition: attachment; filename=\"report-compressed.pdf\""),
        "{text}"
    );
    assert!(lower.contains("content-type: application/pdf"), "{text}");
    assert!(text.ends_with("%PDF-1.7 signed"), "{text}");
    // Local storage has no such URLs.
    let d = tempfile::tempdir().unwrap();
    let local = folio_storage::LocalStorage::open(d.path()).await.unwrap();
    assert!(
        local
            .presigned_get(
                &st.key,
                "x.pdf",
                "application/pdf",
                std::time::Duration::from_secs(60)
            )
            .await
            .unwrap()
            .is_none()
    );
}

/// An `https://` endpoint is spoken to in TLS: the store's client is built
/// with the crypto provider Folio installs (rustls is built without a default
/// one) and sends a TLS ClientHello, instead of panicking or sending plain
/// HTTP. Needs no S3 server: a bare listener reads what arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_speak_tls() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first_bytes = std::thread::spawn(move || -> [u8; 6] {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = [0u8; 6];
        conn.read_exact(&mut head).unwrap();
        head
    });
    let endpoint = format!("https://127.0.0.1:{port}");
    let s = S3Storage::from_url_with(
        "s3://tls/jobs",
        &[
            ("aws_endpoint", endpoint.as_str()),
            ("aws_access_key_id", "folio"),
            ("aws_secret_access_key", "folio"),
        ],
    )
    .unwrap();
    // The listener never answers: the client keeps retrying, and is dropped
    // once the listener has read what it sent. A client that ends first
    // (a panic for want of a provider, or a listing) fails the test.
    let mut listing = tokio::spawn(async move { s.list_keys().await });
    let heard = tokio::task::spawn_blocking(move || first_bytes.join().unwrap());
    let head = tokio::select! {
        head = heard => head.unwrap(),
        ended = &mut listing => panic!("the client ended before the listener heard it: {ended:?}"),
    };
    listing.abort();
    // TLS record type 22 (handshake), version 3.x, then a ClientHello (1).
    assert_eq!(head[0], 0x16, "not a TLS record: {head:?}");
    assert_eq!(head[1], 0x03, "not a TLS record: {head:?}");
    assert_eq!(head[5], 0x01, "not a ClientHello: {head:?}");
}
