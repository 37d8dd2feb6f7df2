//! One behaviour suite, run against the local-folder backend (a fresh temp folder per test)
//! and against a real S3 server (`scripts/setup-s3.sh --start`). Every test uses its own
//! random tenant, so tests run in parallel against one server.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use penny_objects::{Bucket, KeyPrefix, ObjectKey, Objects, ObjectsConfig, PART_SIZE};
use sha2::{Digest, Sha256};
use uuid::Uuid;

mod suite {
    use super::*;

    pub async fn put_get_head_delete(objects: &Objects) {
        let key = key(Uuid::new_v4(), "artifact", "a1");
        let body = Bytes::from_static(b"hello, penny");
        let put = objects
            .put(Bucket::Artifacts, &key, body.clone())
            .await
            .expect("put");
        assert_eq!(put.size, body.len() as u64);

        let head = objects.head(Bucket::Artifacts, &key).await.expect("head");
        assert_eq!(head.size, body.len() as u64);

        let got = objects.get(Bucket::Artifacts, &key).await.expect("get");
        assert_eq!(got.info.size, body.len() as u64);
        assert_eq!(collect(got.body).await, body);
        assert_eq!(
            objects
                .get_bytes(Bucket::Artifacts, &key)
                .await
                .expect("get_bytes"),
            body
        );

        objects
            .delete(Bucket::Artifacts, &key)
            .await
            .expect("delete");
        let err = objects
            .head(Bucket::Artifacts, &key)
            .await
            .expect_err("deleted");
        assert!(err.is_not_found(), "{err}");
        // Deleting again is not an error.
        objects
            .delete(Bucket::Artifacts, &key)
            .await
            .expect("delete again");
    }

    pub async fn put_reports_size_and_sha256_and_round_trips_bytes(objects: &Objects) {
        let key = key(Uuid::new_v4(), "upload", "u1");
        let body = Bytes::from(pseudo_random(300_001, 7));
        let put = objects
            .put(Bucket::Uploads, &key, body.clone())
            .await
            .expect("put");
        assert_eq!(put.size, 300_001);
        assert_eq!(put.sha256, sha256_hex(&body));
        let got = objects.get(Bucket::Uploads, &key).await.expect("get");
        assert_eq!(collect(got.body).await, body);
    }

    pub async fn put_replaces_an_existing_object(objects: &Objects) {
        let key = key(Uuid::new_v4(), "export", "e1");
        objects
            .put(Bucket::Exports, &key, Bytes::from_static(b"first version"))
            .await
            .expect("put 1");
        objects
            .put(Bucket::Exports, &key, Bytes::from_static(b"second"))
            .await
            .expect("put 2");
        let got = objects.get_bytes(Bucket::Exports, &key).await.expect("get");
        assert_eq!(got, Bytes::from_static(b"second"));
    }

    pub async fn small_put_stream_is_one_plain_put(objects: &Objects) {
        let key = key(Uuid::new_v4(), "upload", "small");
        let data = pseudo_random(100_000, 3);
        let put = objects
            .put_stream(Bucket::Uploads, &key, chunks(&data, 7_000))
            .await
            .expect("put_stream");
        assert_eq!(put.size, data.len() as u64);
        assert_eq!(put.sha256, sha256_hex(&data));
        let got = objects.get_bytes(Bucket::Uploads, &key).await.expect("get");
        assert_eq!(&got[..], &data[..]);
    }

    pub async fn large_put_stream_is_a_multipart_upload_read_back_identically(objects: &Objects) {
        let key = key(Uuid::new_v4(), "backup", "b1");
        // 12 MiB + a bit: parts of 5 + 5 + 2 MiB, chunks that straddle part boundaries.
        let data = pseudo_random(12 * 1024 * 1024 + 12_345, 11);
        assert!(data.len() > 2 * PART_SIZE);
        let put = objects
            .put_stream(Bucket::Backups, &key, chunks(&data, 1_000_003))
            .await
            .expect("put_stream");
        assert_eq!(put.size, data.len() as u64);
        assert_eq!(put.sha256, sha256_hex(&data));

        let got = objects.get(Bucket::Backups, &key).await.expect("get");
        assert_eq!(got.info.size, data.len() as u64);
        let mut hasher = Sha256::new();
        let mut size = 0;
        let mut pieces = 0;
        let mut body = got.body;
        while let Some(piece) = body.next().await {
            let piece = piece.expect("body chunk");
            hasher.update(&piece);
            size += piece.len();
            pieces += 1;
        }
        assert_eq!(size, data.len());
        assert_eq!(hex::encode(hasher.finalize()), put.sha256);
        assert!(
            pieces > 1,
            "the body should arrive as a stream, not one buffer"
        );
    }

    pub async fn failing_body_stores_nothing(objects: &Objects) {
        let key = key(Uuid::new_v4(), "upload", "broken");
        let data = pseudo_random(PART_SIZE + 1024, 5);
        let body = chunks(&data, 1024 * 1024).chain(futures::stream::iter([Err(
            std::io::Error::other("client went away"),
        )]));
        let err = objects
            .put_stream(Bucket::Uploads, &key, body)
            .await
            .expect_err("body failed");
        assert!(matches!(err, penny_objects::ObjectsError::Body(_)), "{err}");
        let err = objects
            .head(Bucket::Uploads, &key)
            .await
            .expect_err("nothing stored");
        assert!(err.is_not_found(), "{err}");
    }

    pub async fn missing_object_is_not_found(objects: &Objects) {
        let key = key(Uuid::new_v4(), "artifact", "nope");
        let err = objects.get(Bucket::Artifacts, &key).await.expect_err("get");
        assert!(err.is_not_found(), "{err}");
        let err = objects
            .get_bytes(Bucket::Artifacts, &key)
            .await
            .expect_err("get_bytes");
        assert!(err.is_not_found(), "{err}");
        let err = objects
            .head(Bucket::Artifacts, &key)
            .await
            .expect_err("head");
        assert!(err.is_not_found(), "{err}");
    }

    pub async fn buckets_are_separate(objects: &Objects) {
        let key = key(Uuid::new_v4(), "artifact", "same-key");
        objects
            .put(Bucket::Artifacts, &key, Bytes::from_static(b"x"))
            .await
            .expect("put");
        let err = objects
            .head(Bucket::Exports, &key)
            .await
            .expect_err("other bucket");
        assert!(err.is_not_found(), "{err}");
    }

    pub async fn delete_prefix_removes_one_tenants_objects_only(objects: &Objects) {
        let doomed = Uuid::new_v4();
        let kept = Uuid::new_v4();
        for id in ["a", "b", "c"] {
            for tenant in [doomed, kept] {
                for kind in ["upload", "thumb"] {
                    objects
                        .put(
                            Bucket::Uploads,
                            &key(tenant, kind, id),
                            Bytes::from_static(b"x"),
                        )
                        .await
                        .expect("put");
                }
            }
        }
        // The same tenant's objects in another bucket stay too.
        let elsewhere = key(doomed, "export", "a");
        objects
            .put(Bucket::Exports, &elsewhere, Bytes::from_static(b"x"))
            .await
            .expect("put");

        let deleted = objects
            .delete_prefix(Bucket::Uploads, &KeyPrefix::tenant(doomed))
            .await
            .expect("delete_prefix");
        assert_eq!(deleted, 6);
        for id in ["a", "b", "c"] {
            for kind in ["upload", "thumb"] {
                let err = objects
                    .head(Bucket::Uploads, &key(doomed, kind, id))
                    .await
                    .expect_err("deleted");
                assert!(err.is_not_found(), "{err}");
                objects
                    .head(Bucket::Uploads, &key(kept, kind, id))
                    .await
                    .expect("other tenant's object kept");
            }
        }
        objects
            .head(Bucket::Exports, &elsewhere)
            .await
            .expect("other bucket kept");
        let again = objects
            .delete_prefix(Bucket::Uploads, &KeyPrefix::tenant(doomed))
            .await
            .expect("delete_prefix again");
        assert_eq!(again, 0);
    }

    pub async fn delete_prefix_of_one_kind(objects: &Objects) {
        let tenant = Uuid::new_v4();
        for kind in ["upload", "thumb"] {
            objects
                .put(
                    Bucket::Uploads,
                    &key(tenant, kind, "a"),
                    Bytes::from_static(b"x"),
                )
                .await
                .expect("put");
        }
        let prefix = KeyPrefix::tenant_kind(tenant, "thumb").expect("prefix");
        let deleted = objects
            .delete_prefix(Bucket::Uploads, &prefix)
            .await
            .expect("delete_prefix");
        assert_eq!(deleted, 1);
        objects
            .head(Bucket::Uploads, &key(tenant, "upload", "a"))
            .await
            .expect("other kind kept");
    }

    pub async fn check_passes(objects: &Objects) {
        objects.check().await.expect("check");
    }
}

macro_rules! suite_against_both_backends {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (objects, _dir) = super::local_objects();
                    super::suite::$name(&objects).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let objects = super::s3_objects().await;
                    super::suite::$name(&objects).await;
                }
            )*
        }
    };
}

suite_against_both_backends!(
    put_get_head_delete,
    put_reports_size_and_sha256_and_round_trips_bytes,
    put_replaces_an_existing_object,
    small_put_stream_is_one_plain_put,
    large_put_stream_is_a_multipart_upload_read_back_identically,
    failing_body_stores_nothing,
    missing_object_is_not_found,
    buckets_are_separate,
    delete_prefix_removes_one_tenants_objects_only,
    delete_prefix_of_one_kind,
    check_passes,
);

#[test]
fn keys_reject_path_traversal_and_empty_segments() {
    let tenant = Uuid::new_v4();
    for bad in [
        "",
        ".",
        "..",
        "../x",
        "../../etc/passwd",
        "/",
        "/abs",
        "a/b",
        "a\\b",
        "a b",
    ] {
        let err = ObjectKey::new(tenant, "upload", bad).expect_err(bad);
        assert!(
            matches!(err, penny_objects::ObjectsError::InvalidKey(_)),
            "{err}"
        );
        assert!(ObjectKey::new(tenant, bad, "id").is_err(), "kind {bad:?}");
        assert!(
            KeyPrefix::tenant_kind(tenant, bad).is_err(),
            "prefix {bad:?}"
        );
    }
    let key = ObjectKey::new(tenant, "upload", "01HZX.v2_final-1").expect("valid");
    assert_eq!(
        key.as_str(),
        format!("tenants/{tenant}/upload/01HZX.v2_final-1")
    );
}

#[test]
fn bucket_names_are_the_original_four() {
    let names: Vec<_> = Bucket::ALL.iter().map(|b| b.name()).collect();
    assert_eq!(
        names,
        [
            "penny-artifacts",
            "penny-uploads",
            "penny-exports",
            "penny-backups"
        ]
    );
}

#[tokio::test]
async fn local_backend_creates_one_folder_per_bucket() {
    let (objects, dir) = local_objects();
    for bucket in Bucket::ALL {
        assert!(dir.0.join(bucket.name()).is_dir(), "{bucket}");
    }
    let key = key(Uuid::new_v4(), "upload", "f");
    objects
        .put(Bucket::Uploads, &key, Bytes::from_static(b"x"))
        .await
        .expect("put");
    assert!(dir.0.join("penny-uploads").join(key.as_str()).is_file());
}

#[tokio::test]
async fn check_names_the_bucket_and_endpoint_when_the_server_is_unreachable() {
    // Port 9 (discard) on loopback: nothing listens there.
    let objects =
        Objects::new(&s3_config("http://127.0.0.1:9".to_owned(), None)).expect("config is valid");
    let err = objects.check().await.expect_err("unreachable");
    let msg = err.to_string();
    assert!(msg.contains("penny-artifacts"), "{msg}");
    assert!(msg.contains("http://127.0.0.1:9"), "{msg}");
}

#[tokio::test]
async fn check_fails_for_a_missing_bucket() {
    s3_objects().await; // the server itself must be up, or this would pass for the wrong reason
    let objects = Objects::new(&s3_config(
        s3_endpoint(),
        Some(format!("missing-{}-", Uuid::new_v4().simple())),
    ))
    .expect("config is valid");
    let err = objects.check().await.expect_err("no such bucket");
    assert!(err.to_string().contains("missing-"), "{err}");
}

/// S3 reports a multipart object's ETag as `{md5 of part md5s}-{part count}`: proof that
/// a long body really went up as 5 + 5 + 2 MiB parts and a short one as one PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_put_stream_uses_5_mib_parts_only_for_long_bodies() {
    let objects = s3_objects().await;
    let tenant = Uuid::new_v4();
    let parts = |e_tag: Option<String>| {
        let e_tag = e_tag.expect("S3 returns an ETag");
        e_tag
            .trim_matches('"')
            .split_once('-')
            .map(|(_, n)| n.to_owned())
    };

    let long = pseudo_random(12 * 1024 * 1024 + 1, 13);
    let put = objects
        .put_stream(
            Bucket::Backups,
            &key(tenant, "backup", "long"),
            chunks(&long, 64 * 1024),
        )
        .await
        .expect("long put_stream");
    assert_eq!(parts(put.e_tag).as_deref(), Some("3"));

    let short = pseudo_random(PART_SIZE - 1, 17);
    let put = objects
        .put_stream(
            Bucket::Backups,
            &key(tenant, "backup", "short"),
            chunks(&short, 64 * 1024),
        )
        .await
        .expect("short put_stream");
    assert_eq!(parts(put.e_tag), None);
}

#[test]
fn plain_http_needs_allow_http() {
    let mut config = s3_config(s3_endpoint(), None);
    if let ObjectsConfig::S3 { allow_http, .. } = &mut config {
        *allow_http = false;
    }
    let err = Objects::new(&config).expect_err("http refused");
    assert!(err.to_string().contains("http://"), "{err}");
}

/// axum handlers need `Send` futures; this fails to compile if an operation's is not.
#[test]
fn operations_return_send_futures() {
    fn is_send<T: Send>(_: &T) {}
    let (objects, _dir) = local_objects();
    let key = key(Uuid::nil(), "upload", "x");
    is_send(&objects.put(Bucket::Uploads, &key, Bytes::new()));
    is_send(&objects.put_stream(Bucket::Uploads, &key, chunks(b"x", 1)));
    is_send(&objects.get(Bucket::Uploads, &key));
    is_send(&objects.delete_prefix(Bucket::Uploads, &KeyPrefix::tenant(Uuid::nil())));
    is_send(&objects.check());
}

#[test]
fn config_debug_hides_the_secret() {
    let shown = format!("{:?}", s3_config(s3_endpoint(), None));
    assert!(
        !shown.contains(&s3_env("SECRET_ACCESS_KEY", DEFAULT_SECRET)),
        "{shown}"
    );
}

// --- helpers ---------------------------------------------------------------

const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9000";
const DEFAULT_ACCESS_KEY: &str = "penny-test";
const DEFAULT_SECRET: &str = "penny-test-secret";

fn key(tenant: Uuid, kind: &str, id: &str) -> ObjectKey {
    ObjectKey::new(tenant, kind, id).expect("valid key")
}

/// A temp folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn local_objects() -> (Objects, TempDir) {
    let dir = TempDir(std::env::temp_dir().join(format!("penny-objects-{}", Uuid::new_v4())));
    let objects = Objects::new(&ObjectsConfig::Local {
        root: dir.0.clone(),
    })
    .expect("local objects");
    (objects, dir)
}

fn s3_env(name: &str, default: &str) -> String {
    std::env::var(format!("PENNY_TEST_S3_{name}")).unwrap_or_else(|_| default.to_owned())
}

fn s3_endpoint() -> String {
    s3_env("ENDPOINT", DEFAULT_ENDPOINT)
}

fn s3_config(endpoint: String, bucket_prefix: Option<String>) -> ObjectsConfig {
    ObjectsConfig::S3 {
        endpoint,
        access_key_id: s3_env("ACCESS_KEY_ID", DEFAULT_ACCESS_KEY),
        secret_access_key: s3_env("SECRET_ACCESS_KEY", DEFAULT_SECRET),
        region: ObjectsConfig::S3_REGION.to_owned(),
        bucket_prefix,
        allow_http: true,
    }
}

/// The test S3 server; fails (never skips) when it is not running.
async fn s3_objects() -> Objects {
    let endpoint = s3_endpoint();
    let objects = Objects::new(&s3_config(endpoint.clone(), None)).expect("S3 config");
    if let Err(e) = objects.check().await {
        panic!(
            "the test S3 server at {endpoint} is not usable ({e}); \
             run scripts/setup-s3.sh --start (or set PENNY_TEST_S3_ENDPOINT)"
        );
    }
    objects
}

/// Deterministic bytes that do not compress or repeat at part boundaries (xorshift).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn chunks(
    data: &[u8],
    size: usize,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + use<> {
    let pieces: Vec<_> = data.chunks(size).map(Bytes::copy_from_slice).collect();
    futures::stream::iter(pieces.into_iter().map(Ok))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

async fn collect(body: penny_objects::ObjectStream) -> Bytes {
    let parts: Vec<Bytes> = body.try_collect().await.expect("read body");
    Bytes::from(parts.concat())
}
