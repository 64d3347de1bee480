//! The S3 backend: blobs in any S3-compatible bucket (AWS S3, Garage, MinIO, Ceph RGW, R2),
//! through aws-sdk-s3 over hyper + rustls (ring).
//!
//! Invariants:
//! - Keys are `<prefix>/ab/cd/<sha256 hex>`, built from a [`Digest`] only.
//! - Every write carries the blob's SHA-256 as `x-amz-checksum-sha256` (each part's own
//!   SHA-256 for a multipart upload), so the store refuses bytes changed on the way.
//! - Every read is hashed and compared with the digest before the bytes are returned: a blob
//!   altered in the bucket is [`Error::Corrupt`], never served.
//! - Secrets are held in [`Secret`], whose `Debug` is redacted; they are never logged.

use std::fmt;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::provider_config::ProviderConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedCredentialsProvider,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use switchyard_model::Digest;

use crate::{BlobStore, Error, Staging, io_err, write_temp};

/// Blobs larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Size of each part of a multipart upload (S3's minimum is 5 MiB, except the last).
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Requests in flight at once for existence checks and uploads.
const CONCURRENCY: usize = 16;

/// A secret string: `Debug` prints `[redacted]`, and there is no `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The `[blob]` / `[origin]` S3 settings as written in a config file. Unknown keys are an error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix under which blobs are stored (`<prefix>/ab/cd/<hex>`), may be empty.
    #[serde(default)]
    pub prefix: String,
    /// Region [default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1].
    pub region: Option<String>,
    /// Endpoint URL of an S3-compatible store, e.g. `http://127.0.0.1:3900` [default: AWS].
    pub endpoint: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), as most S3-compatible stores want.
    #[serde(default)]
    pub force_path_style: bool,
    /// Access key id; needs `secret_access_key_file`. Without both, credentials come from the
    /// usual AWS sources (environment, profile, web identity, container).
    pub access_key_id: Option<String>,
    /// File holding the secret access key.
    pub secret_access_key_file: Option<PathBuf>,
}

/// Validated S3 settings.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for none.
    pub prefix: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub force_path_style: bool,
    /// Explicit credentials; `None` for the usual AWS sources.
    pub credentials: Option<S3Credentials>,
}

#[derive(Debug, Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

impl S3Settings {
    /// Checks the settings and reads the secret key file.
    pub fn resolve(self) -> Result<S3Config, Error> {
        let bad = |m: String| Error::Config(m);
        let bucket = self.bucket;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !bucket_ok {
            return Err(bad(format!(
                "bucket {bucket:?} is not a bucket name (3-63 lowercase letters, digits, '-' or '.')"
            )));
        }
        let prefix = self.prefix.trim_matches('/').to_owned();
        if prefix.len() > 512
            || prefix.split('/').any(|p| p == "." || p == "..")
            || prefix.chars().any(|c| c.is_control() || c == '\\')
        {
            return Err(bad(format!(
                "prefix {prefix:?} must be at most 512 characters, no control characters, '.' or '..' segments"
            )));
        }
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(bad(format!("endpoint {endpoint:?} must start with http:// or https://")));
        }
        let region = self
            .region
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let credentials = match (self.access_key_id, self.secret_access_key_file) {
            (None, None) => None,
            (Some(access_key_id), Some(file)) => {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| bad(format!("reading secret_access_key_file {}: {e}", file.display())))?;
                let secret = text.trim();
                if secret.is_empty() {
                    return Err(bad(format!("secret_access_key_file {} is empty", file.display())));
                }
                Some(S3Credentials { access_key_id, secret_access_key: Secret::new(secret) })
            }
            _ => return Err(bad("access_key_id and secret_access_key_file must be given together".into())),
        };
        Ok(S3Config {
            bucket,
            prefix,
            region,
            endpoint: self.endpoint,
            force_path_style: self.force_path_style,
            credentials,
        })
    }
}

/// Blobs in an S3 bucket. Cheap to clone.
#[derive(Clone)]
pub struct S3BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    config: S3Config,
    /// Local directory for staging areas and uploads in progress.
    tmp: PathBuf,
    /// The runtime the blocking [`BlobStore`] methods drive requests on.
    handle: tokio::runtime::Handle,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore").field("config", &self.inner.config).field("tmp", &self.inner.tmp).finish()
    }
}

impl S3BlobStore {
    /// A client for `config`, staging under `tmp` (created if missing). Sends nothing yet:
    /// see [`S3BlobStore::check`]. Must be called within a Tokio runtime.
    pub fn new(config: S3Config, tmp: &Path) -> Result<S3BlobStore, Error> {
        std::fs::create_dir_all(tmp).map_err(io_err(tmp))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let credentials = match &config.credentials {
            Some(c) => SharedCredentialsProvider::new(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.expose().to_owned(),
                None,
                None,
                "switchyard-config",
            )),
            None => {
                // The usual sources, minus the EC2 instance metadata service (which would
                // send requests to a link-local address wherever this runs).
                let provider_config = ProviderConfig::without_region()
                    .with_http_client(http.clone())
                    .with_region(Some(Region::new(config.region.clone())));
                SharedCredentialsProvider::new(
                    CredentialsProviderChain::first_try(
                        "Environment",
                        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                    )
                    .or_else(
                        "Profile",
                        aws_config::profile::ProfileFileCredentialsProvider::builder()
                            .configure(&provider_config)
                            .build(),
                    )
                    .or_else(
                        "WebIdentityToken",
                        aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                            .configure(&provider_config)
                            .build(),
                    )
                    .or_else(
                        "EcsContainer",
                        aws_config::ecs::EcsCredentialsProvider::builder().configure(&provider_config).build(),
                    ),
                )
            }
        };
        let mut builder = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .http_client(http)
            .force_path_style(config.force_path_style)
            // We send SHA-256 ourselves and verify every read ourselves.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let client = Client::from_conf(builder.build());
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("the S3 store needs a Tokio runtime".into()))?;
        Ok(S3BlobStore { inner: Arc::new(Inner { client, config, tmp: tmp.to_owned(), handle }) })
    }

    pub fn config(&self) -> &S3Config {
        &self.inner.config
    }

    /// `s3://bucket/prefix`
    pub fn url(&self) -> String {
        let c = &self.inner.config;
        let at = c.endpoint.as_deref().map(|e| format!(" at {e}")).unwrap_or_default();
        if c.prefix.is_empty() {
            format!("s3://{}{at}", c.bucket)
        } else {
            format!("s3://{}/{}{at}", c.bucket, c.prefix)
        }
    }

    /// The object key of blob `digest`.
    pub fn key(&self, digest: &Digest) -> String {
        let hex = digest.to_hex();
        let prefix = &self.inner.config.prefix;
        let sep = if prefix.is_empty() { "" } else { "/" };
        format!("{prefix}{sep}{}/{}/{hex}", &hex[0..2], &hex[2..4])
    }

    /// Start-up check, within `timeout`: the bucket exists and these credentials may see it
    /// (`HeadBucket`), then write, read back and delete a tiny probe object. The error says
    /// which of these went wrong (missing bucket, credentials refused, endpoint unreachable).
    pub async fn check(&self, timeout: Duration, write: bool) -> Result<(), Error> {
        match tokio::time::timeout(timeout, self.check_inner(write)).await {
            Ok(result) => result,
            Err(_) => Err(Error::S3 {
                operation: "start-up check",
                target: self.url(),
                message: format!("no answer within {timeout:?}: is the endpoint reachable?"),
            }),
        }
    }

    async fn check_inner(&self, write: bool) -> Result<(), Error> {
        let c = &self.inner.config;
        self.inner
            .client
            .head_bucket()
            .bucket(&c.bucket)
            .send()
            .await
            .map_err(|e| self.error("HeadBucket", self.url(), e))?;
        if !write {
            return Ok(());
        }
        let probe =
            format!("switchyard start-up probe, process {}, {:?}", std::process::id(), std::time::SystemTime::now());
        let bytes = Bytes::from(probe.into_bytes());
        let digest = Digest::of(&bytes);
        let key = self.key(&digest);
        self.put_object(&key, &digest, bytes.clone()).await?;
        let back = self.get_verified(&digest, 1024).await?;
        if back != bytes {
            return Err(Error::Corrupt { expected: digest, actual: Digest::of(&back) });
        }
        self.inner
            .client
            .delete_object()
            .bucket(&c.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| self.error("DeleteObject", key, e))?;
        Ok(())
    }

    /// Whether each digest is stored (HeadObject, [`CONCURRENCY`] at a time), in order.
    pub async fn exists_many(&self, digests: &[Digest]) -> Result<Vec<bool>, Error> {
        futures_util::stream::iter(digests.iter().map(|d| self.exists(*d))).buffered(CONCURRENCY).try_collect().await
    }

    /// Whether blob `digest` is stored.
    pub async fn exists(&self, digest: Digest) -> Result<bool, Error> {
        let key = self.key(&digest);
        match self.inner.client.head_object().bucket(&self.inner.config.bucket).key(&key).send().await {
            Ok(_) => Ok(true),
            Err(e) if status_of(&e) == Some(404) => Ok(false),
            Err(e) => Err(self.error("HeadObject", key, e)),
        }
    }

    /// Reads blob `digest` (at most `limit` bytes) and checks its hash before returning it.
    pub async fn get_verified(&self, digest: &Digest, limit: u64) -> Result<Bytes, Error> {
        let key = self.key(digest);
        let response = match self.inner.client.get_object().bucket(&self.inner.config.bucket).key(&key).send().await {
            Ok(r) => r,
            Err(e) if status_of(&e) == Some(404) => return Err(Error::NotFound { digest: *digest }),
            Err(e) => return Err(self.error("GetObject", key, e)),
        };
        if response.content_length().is_some_and(|n| n < 0 || n as u64 > limit) {
            return Err(Error::TooLarge { limit });
        }
        let mut body = response.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.try_next().await.map_err(|e| Error::S3 {
            operation: "GetObject",
            target: key.clone(),
            message: format!("reading the body: {}", DisplayErrorContext(&e)),
        })? {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(Error::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(Error::Corrupt { expected: *digest, actual });
        }
        Ok(Bytes::from(bytes))
    }

    /// Uploads the file at `path`, whose bytes hash to `digest` (checked again by the store
    /// through the checksum header), in parts when it is large.
    pub async fn put_file(&self, digest: &Digest, path: &Path) -> Result<(), Error> {
        let size = tokio::fs::metadata(path).await.map_err(io_err(path))?.len();
        let key = self.key(digest);
        if size <= MULTIPART_THRESHOLD {
            let bytes = tokio::fs::read(path).await.map_err(io_err(path))?;
            return self.put_object(&key, digest, Bytes::from(bytes)).await;
        }
        self.put_multipart(&key, path, size).await
    }

    /// Uploads bytes already in memory as blob `digest` (which they must hash to).
    pub async fn put_bytes(&self, digest: &Digest, bytes: Bytes) -> Result<(), Error> {
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(Error::Corrupt { expected: *digest, actual });
        }
        self.put_object(&self.key(digest), digest, bytes).await
    }

    async fn put_object(&self, key: &str, digest: &Digest, bytes: Bytes) -> Result<(), Error> {
        self.inner
            .client
            .put_object()
            .bucket(&self.inner.config.bucket)
            .key(key)
            .content_type("application/octet-stream")
            .checksum_sha256(base64(digest.as_bytes()))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| self.error("PutObject", key.to_owned(), e))?;
        Ok(())
    }

    async fn put_multipart(&self, key: &str, path: &Path, size: u64) -> Result<(), Error> {
        let c = &self.inner.config;
        let created = self
            .inner
            .client
            .create_multipart_upload()
            .bucket(&c.bucket)
            .key(key)
            .content_type("application/octet-stream")
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|e| self.error("CreateMultipartUpload", key.to_owned(), e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let result = self.upload_parts(key, &upload_id, path, size).await;
        let parts = match result {
            Ok(parts) => parts,
            Err(e) => {
                let _ = self
                    .inner
                    .client
                    .abort_multipart_upload()
                    .bucket(&c.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return Err(e);
            }
        };
        let done = self
            .inner
            .client
            .complete_multipart_upload()
            .bucket(&c.bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await;
        if let Err(e) = done {
            let _ = self
                .inner
                .client
                .abort_multipart_upload()
                .bucket(&c.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(self.error("CompleteMultipartUpload", key.to_owned(), e));
        }
        Ok(())
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        path: &Path,
        size: u64,
    ) -> Result<Vec<CompletedPart>, Error> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let mut parts = Vec::new();
        let mut offset = 0u64;
        let mut number = 1i32;
        let mut file = tokio::fs::File::open(path).await.map_err(io_err(path))?;
        while offset < size {
            let len = PART_SIZE.min(size - offset);
            let mut buf = vec![0u8; len as usize];
            file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io_err(path))?;
            file.read_exact(&mut buf).await.map_err(io_err(path))?;
            let checksum = base64(Digest::of(&buf).as_bytes());
            let part = self
                .inner
                .client
                .upload_part()
                .bucket(&self.inner.config.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .checksum_sha256(&checksum)
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(|e| self.error("UploadPart", format!("{key} part {number}"), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_owned))
                    .checksum_sha256(checksum)
                    .build(),
            );
            offset += len;
            number += 1;
        }
        Ok(parts)
    }

    /// Uploads every (file, digest) whose digest is not yet in the bucket; returns how many.
    pub async fn upload_missing(&self, files: &[(PathBuf, Digest)]) -> Result<usize, Error> {
        let mut unique: Vec<&(PathBuf, Digest)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for f in files {
            if seen.insert(f.1) {
                unique.push(f);
            }
        }
        let digests: Vec<Digest> = unique.iter().map(|f| f.1).collect();
        let present = self.exists_many(&digests).await?;
        let missing: Vec<_> = unique.into_iter().zip(present).filter(|(_, p)| !p).map(|(f, _)| f).collect();
        let count = missing.len();
        futures_util::stream::iter(missing.into_iter().map(|(path, digest)| self.put_file(digest, path)))
            .buffer_unordered(CONCURRENCY.min(8))
            .try_collect::<Vec<()>>()
            .await?;
        Ok(count)
    }

    /// Runs `fut` to completion from blocking code (a blocking thread, or a worker thread of
    /// a multi-threaded runtime).
    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::task::block_in_place(|| self.inner.handle.block_on(fut))
        } else {
            self.inner.handle.block_on(fut)
        }
    }

    fn error<E>(&self, operation: &'static str, target: String, error: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let endpoint = self.inner.config.endpoint.as_deref().unwrap_or("the AWS S3 endpoint");
        let message = match &error {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                format!("cannot reach {endpoint}: {}", DisplayErrorContext(&error))
            }
            SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
                let status = status_of(&error);
                let code = error.code().map(|c| format!(" {c}")).unwrap_or_default();
                let detail = error.message().map(|m| format!(": {m}")).unwrap_or_default();
                let hint = match status {
                    Some(403) => " (access denied: check the access key id and secret key, and the bucket policy)",
                    Some(404) if operation == "HeadBucket" => {
                        " (the bucket does not exist: create it, or fix `bucket`)"
                    }
                    Some(301 | 400) if operation == "HeadBucket" => {
                        " (check `region`, `endpoint` and `force_path_style`)"
                    }
                    _ => "",
                };
                let status = status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "error".into());
                format!("{status}{code}{detail}{hint}")
            }
            _ => DisplayErrorContext(&error).to_string(),
        };
        Error::S3 { operation, target, message }
    }
}

fn status_of<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

impl BlobStore for S3BlobStore {
    fn describe(&self) -> String {
        self.url()
    }

    fn contains(&self, digest: &Digest) -> Result<bool, Error> {
        self.block_on(self.exists(*digest))
    }

    fn contains_many(&self, digests: &[Digest]) -> Result<Vec<bool>, Error> {
        self.block_on(self.exists_many(digests))
    }

    fn read_verified(&self, digest: &Digest) -> Result<Vec<u8>, Error> {
        self.block_on(self.get_verified(digest, u64::MAX)).map(|b| b.to_vec())
    }

    fn put_verified(&self, expected: &Digest, reader: &mut dyn Read, limit: u64) -> Result<u64, Error> {
        let (tmp_path, actual, size) = write_temp(&self.inner.tmp, reader, limit)?;
        let tmp_path = tempfile::TempPath::try_from_path(&tmp_path).map_err(io_err(&tmp_path))?;
        if actual != *expected {
            return Err(Error::Corrupt { expected: *expected, actual });
        }
        if !self.block_on(self.exists(actual))? {
            self.block_on(self.put_file(&actual, &tmp_path))?;
        }
        Ok(size)
    }

    fn staging(&self) -> Result<Staging, Error> {
        Staging::new(Arc::new(self.clone()), &self.inner.tmp)
    }

    fn commit_staged(&self, staged: &[(PathBuf, Digest)]) -> Result<usize, Error> {
        self.block_on(self.upload_missing(staged))
    }
}

/// Standard base64 with padding (the encoding of `x-amz-checksum-*` headers).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
