//! The S3 backend (aws-sdk-s3, path-style, any S3-compatible endpoint such as Garage).
//!
//! Puts stream from the reader: bodies up to [`MULTIPART_THRESHOLD`] go in one PutObject,
//! larger ones as a multipart upload of [`PART_SIZE`] parts, so at most one part is in memory.
//! The SDK retries throttling and transient errors with exponential backoff (standard mode,
//! [`MAX_ATTEMPTS`]); every part is a retryable in-memory body. The sha256 is computed while
//! uploading; a mismatch aborts the upload (multipart) or deletes the object (single put).
//! Must not: be called from inside a tokio runtime (the store owns its runtime and blocks).

use std::io::Read;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use sha2::{Digest, Sha256};

use super::{BlobStore, ObjectInfo, ObjectReader, check_body, check_key};
use crate::error::{Error, Result};

/// Bodies larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 << 20;

/// Size of each multipart part (S3's minimum is 5 MiB except for the last).
pub const PART_SIZE: usize = 8 << 20;

/// Attempts per request, including the first.
pub const MAX_ATTEMPTS: u32 = 5;

/// Where and as whom to talk S3.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing slash; may be empty).
    pub prefix: String,
    /// Endpoint URL (`AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`); `None`: AWS itself.
    pub endpoint: Option<String>,
    /// Region to sign with (`AWS_REGION`, then `AWS_DEFAULT_REGION`); must match the server's.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token, for temporary credentials.
    pub session_token: Option<String>,
    /// Multipart threshold (tests lower it).
    pub multipart_threshold: u64,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Reads `key` from the `[profile]` section of an AWS INI file (credentials or config).
fn ini_value(text: &str, profile: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            in_section = section == profile || section == format!("profile {profile}");
            continue;
        }
        if in_section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

impl S3Settings {
    /// Settings from the standard AWS environment variables, falling back to the shared
    /// credentials and config files (`~/.aws/credentials`, `~/.aws/config`, profile
    /// `AWS_PROFILE` or `default`).
    pub fn from_env(bucket: &str, prefix: &str) -> Result<S3Settings> {
        let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let home = env("HOME").unwrap_or_default();
        let read = |var: &str, default: String| {
            let path = env(var).unwrap_or(default);
            std::fs::read_to_string(path).unwrap_or_default()
        };
        let credentials = read(
            "AWS_SHARED_CREDENTIALS_FILE",
            format!("{home}/.aws/credentials"),
        );
        let config = read("AWS_CONFIG_FILE", format!("{home}/.aws/config"));
        let from_files = |key: &str| {
            ini_value(&credentials, &profile, key).or_else(|| ini_value(&config, &profile, key))
        };
        let missing = |what: &str| {
            Error::bad_location(
                &format!("s3://{bucket}/{prefix}"),
                format!("no S3 {what} (set it in the environment or ~/.aws)"),
            )
        };
        Ok(S3Settings {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: env("AWS_ENDPOINT_URL_S3")
                .or_else(|| env("AWS_ENDPOINT_URL"))
                .or_else(|| from_files("endpoint_url")),
            region: env("AWS_REGION")
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .or_else(|| from_files("region"))
                .ok_or_else(|| missing("region (AWS_REGION)"))?,
            access_key_id: env("AWS_ACCESS_KEY_ID")
                .or_else(|| from_files("aws_access_key_id"))
                .ok_or_else(|| missing("access key (AWS_ACCESS_KEY_ID)"))?,
            secret_access_key: env("AWS_SECRET_ACCESS_KEY")
                .or_else(|| from_files("aws_secret_access_key"))
                .ok_or_else(|| missing("secret key (AWS_SECRET_ACCESS_KEY)"))?,
            session_token: env("AWS_SESSION_TOKEN").or_else(|| from_files("aws_session_token")),
            multipart_threshold: MULTIPART_THRESHOLD,
        })
    }
}

/// A bucket (and key prefix) on an S3-compatible server.
pub struct S3Store {
    settings: S3Settings,
    client: Client,
    runtime: tokio::runtime::Runtime,
}

fn s3_error<E>(operation: &'static str, key: &str, err: E) -> Error
where
    E: std::error::Error,
{
    Error::S3 {
        operation,
        key: key.to_owned(),
        message: DisplayErrorContext(err).to_string(),
    }
}

/// Reads until `buffer` is full or the body ends; returns the bytes read.
fn fill(body: &mut dyn Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match body.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A streaming object body read synchronously, one chunk at a time.
struct BodyReader {
    handle: tokio::runtime::Handle,
    body: ByteStream,
    chunk: Vec<u8>,
    position: usize,
    key: String,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.position == self.chunk.len() {
            match self.handle.block_on(self.body.next()) {
                None => return Ok(0),
                Some(Ok(bytes)) => {
                    self.chunk.clear();
                    self.chunk.extend_from_slice(&bytes);
                    self.position = 0;
                }
                Some(Err(e)) => {
                    return Err(std::io::Error::other(format!(
                        "s3 body of {}: {e}",
                        self.key
                    )));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.position);
        buf[..n].copy_from_slice(&self.chunk[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

impl S3Store {
    /// Connects (lazily: no request is made until the first operation).
    pub fn open(settings: S3Settings) -> Result<S3Store> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rpmdepot-s3")
            .enable_all()
            .build()
            .map_err(|e| Error::io(std::path::Path::new("tokio runtime"), e))?;
        use aws_smithy_http_client::tls;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(settings.region.clone()))
            .credentials_provider(Credentials::new(
                settings.access_key_id.clone(),
                settings.secret_access_key.clone(),
                settings.session_token.clone(),
                None,
                "rpmdepot",
            ))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .force_path_style(true);
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        Ok(S3Store {
            client: Client::from_conf(config.build()),
            settings,
            runtime,
        })
    }

    fn full_key(&self, key: &str) -> Result<String> {
        check_key(key)?;
        Ok(if self.settings.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.settings.prefix)
        })
    }

    fn put_single(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        let full = self.full_key(key)?;
        self.runtime
            .block_on(
                self.client
                    .put_object()
                    .bucket(&self.settings.bucket)
                    .key(&full)
                    .content_length(bytes.len() as i64)
                    .body(ByteStream::from(bytes))
                    .send(),
            )
            .map_err(|e| s3_error("PutObject", &full, e))?;
        Ok(())
    }

    /// Uploads `first` and the rest of `body` as parts, checks size and digest, and only then
    /// completes the upload; any failure aborts it, so the key never shows a partial object.
    fn put_multipart(
        &self,
        key: &str,
        first: Vec<u8>,
        body: &mut dyn Read,
        mut hasher: Sha256,
        size: u64,
        sha256: Option<&str>,
    ) -> Result<()> {
        let full = self.full_key(key)?;
        let bucket = &self.settings.bucket;
        let created = self
            .runtime
            .block_on(
                self.client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(&full)
                    .send(),
            )
            .map_err(|e| s3_error("CreateMultipartUpload", &full, e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::S3 {
                operation: "CreateMultipartUpload",
                key: full.clone(),
                message: "no upload id in the answer".into(),
            })?
            .to_owned();
        let upload = || -> Result<()> {
            let mut parts = Vec::new();
            let mut pending = first;
            let mut total = 0u64;
            let mut number = 1i32;
            loop {
                let mut part: Vec<u8> = if pending.len() > PART_SIZE {
                    let rest = pending.split_off(PART_SIZE);
                    std::mem::replace(&mut pending, rest)
                } else {
                    std::mem::take(&mut pending)
                };
                if part.len() < PART_SIZE {
                    let start = part.len();
                    part.resize(PART_SIZE, 0);
                    let n = fill(body, &mut part[start..]).map_err(|e| Error::S3 {
                        operation: "UploadPart",
                        key: full.clone(),
                        message: format!("reading the source: {e}"),
                    })?;
                    part.truncate(start + n);
                    hasher.update(&part[start..]);
                }
                if part.is_empty() {
                    break;
                }
                total += part.len() as u64;
                let last = part.len() < PART_SIZE;
                let answer = self
                    .runtime
                    .block_on(
                        self.client
                            .upload_part()
                            .bucket(bucket)
                            .key(&full)
                            .upload_id(&upload_id)
                            .part_number(number)
                            .content_length(part.len() as i64)
                            .body(ByteStream::from(part))
                            .send(),
                    )
                    .map_err(|e| s3_error("UploadPart", &full, e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(answer.e_tag().map(str::to_owned))
                        .build(),
                );
                number += 1;
                if last {
                    break;
                }
            }
            check_body(key, size, total, sha256, hasher.clone())?;
            self.runtime
                .block_on(
                    self.client
                        .complete_multipart_upload()
                        .bucket(bucket)
                        .key(&full)
                        .upload_id(&upload_id)
                        .multipart_upload(
                            CompletedMultipartUpload::builder()
                                .set_parts(Some(parts))
                                .build(),
                        )
                        .send(),
                )
                .map_err(|e| s3_error("CompleteMultipartUpload", &full, e))?;
            Ok(())
        };
        let result = upload();
        if result.is_err() {
            let _ = self.runtime.block_on(
                self.client
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(&full)
                    .upload_id(&upload_id)
                    .send(),
            );
        }
        result
    }
}

fn is_not_found<E: aws_sdk_s3::error::ProvideErrorMetadata>(err: &E) -> bool {
    matches!(err.code(), Some("NoSuchKey" | "NotFound" | "404"))
}

/// `bucket/key` as the `x-amz-copy-source` header wants it: URL-encoded, slashes kept.
fn percent_encode_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl BlobStore for S3Store {
    fn url(&self) -> String {
        if self.settings.prefix.is_empty() {
            format!("s3://{}", self.settings.bucket)
        } else {
            format!("s3://{}/{}", self.settings.bucket, self.settings.prefix)
        }
    }

    fn put(&self, key: &str, body: &mut dyn Read, size: u64, sha256: Option<&str>) -> Result<()> {
        self.full_key(key)?;
        let hasher = Sha256::new();
        if size > self.settings.multipart_threshold {
            return self.put_multipart(key, Vec::new(), body, hasher, size, sha256);
        }
        // Small enough for one request: read it (and one byte more, to catch a longer body),
        // check it, then send it; a mismatch stores nothing.
        let mut bytes = Vec::with_capacity(size as usize + 1);
        body.take(size + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::S3 {
                operation: "PutObject",
                key: key.to_owned(),
                message: format!("reading the source: {e}"),
            })?;
        let mut hasher = hasher;
        hasher.update(&bytes);
        check_body(key, size, bytes.len() as u64, sha256, hasher)?;
        self.put_single(key, bytes)
    }

    fn refresh(&self, key: &str) -> Result<()> {
        let full = self.full_key(key)?;
        // Copying an object onto itself is allowed when its metadata is replaced; the copy
        // happens inside the server and gives the object a new Last-Modified.
        let source = percent_encode_key(&format!("{}/{full}", self.settings.bucket));
        self.runtime
            .block_on(
                self.client
                    .copy_object()
                    .bucket(&self.settings.bucket)
                    .key(&full)
                    .copy_source(source)
                    .metadata_directive(MetadataDirective::Replace)
                    .send(),
            )
            .map_err(|e| s3_error("CopyObject", &full, e))?;
        Ok(())
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let full = self.full_key(key)?;
        let answer = self.runtime.block_on(
            self.client
                .head_object()
                .bucket(&self.settings.bucket)
                .key(&full)
                .send(),
        );
        match answer {
            Ok(head) => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: head.content_length().unwrap_or(0).max(0) as u64,
                modified: head
                    .last_modified()
                    .and_then(|t| SystemTime::try_from(*t).ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH),
            })),
            Err(err) => {
                if err.as_service_error().is_some_and(|e| e.is_not_found())
                    || err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 404)
                {
                    Ok(None)
                } else {
                    Err(s3_error("HeadObject", &full, err))
                }
            }
        }
    }

    fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ObjectReader> {
        let full = self.full_key(key)?;
        let mut request = self
            .client
            .get_object()
            .bucket(&self.settings.bucket)
            .key(&full);
        if let Some((start, end)) = range {
            request = request.range(format!("bytes={start}-{end}"));
        }
        let answer = self.runtime.block_on(request.send());
        match answer {
            Ok(object) => Ok(Box::new(BodyReader {
                handle: self.runtime.handle().clone(),
                body: object.body,
                chunk: Vec::new(),
                position: 0,
                key: full,
            })),
            Err(err) => {
                if err.as_service_error().is_some_and(is_not_found)
                    || err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 404)
                {
                    Err(Error::NotFound(key.to_owned()))
                } else {
                    Err(s3_error("GetObject", &full, err))
                }
            }
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let full_prefix = if self.settings.prefix.is_empty() {
            prefix.to_owned()
        } else {
            format!("{}/{prefix}", self.settings.prefix)
        };
        let strip = if self.settings.prefix.is_empty() {
            0
        } else {
            self.settings.prefix.len() + 1
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let answer = self
                .runtime
                .block_on(
                    self.client
                        .list_objects_v2()
                        .bucket(&self.settings.bucket)
                        .prefix(&full_prefix)
                        .set_continuation_token(token.take())
                        .send(),
                )
                .map_err(|e| s3_error("ListObjectsV2", &full_prefix, e))?;
            for object in answer.contents() {
                let Some(key) = object.key() else { continue };
                out.push(ObjectInfo {
                    key: key[strip.min(key.len())..].to_owned(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    modified: object
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok())
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
            match answer.next_continuation_token() {
                Some(next) if answer.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let full = self.full_key(key)?;
        self.runtime
            .block_on(
                self.client
                    .delete_object()
                    .bucket(&self.settings.bucket)
                    .key(&full)
                    .send(),
            )
            .map_err(|e| s3_error("DeleteObject", &full, e))?;
        Ok(())
    }

    fn presigned_get(&self, key: &str, expires: Duration) -> Result<Option<String>> {
        let full = self.full_key(key)?;
        let config =
            PresigningConfig::expires_in(expires).map_err(|e| s3_error("presign", &full, e))?;
        let request = self
            .runtime
            .block_on(
                self.client
                    .get_object()
                    .bucket(&self.settings.bucket)
                    .key(&full)
                    .presigned(config),
            )
            .map_err(|e| s3_error("presign", &full, e))?;
        Ok(Some(request.uri().to_owned()))
    }

    fn sweep_incomplete(&self, older_than: Duration) -> Result<usize> {
        let cutoff = SystemTime::now() - older_than;
        let prefix = if self.settings.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.settings.prefix)
        };
        let answer = self
            .runtime
            .block_on(
                self.client
                    .list_multipart_uploads()
                    .bucket(&self.settings.bucket)
                    .prefix(&prefix)
                    .send(),
            )
            .map_err(|e| s3_error("ListMultipartUploads", &prefix, e))?;
        let mut removed = 0;
        for upload in answer.uploads() {
            let started = upload
                .initiated()
                .and_then(|t| SystemTime::try_from(*t).ok())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            if let (Some(key), Some(id)) = (upload.key(), upload.upload_id())
                && started <= cutoff
            {
                self.runtime
                    .block_on(
                        self.client
                            .abort_multipart_upload()
                            .bucket(&self.settings.bucket)
                            .key(key)
                            .upload_id(id)
                            .send(),
                    )
                    .map_err(|e| s3_error("AbortMultipartUpload", key, e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_url_encoded_with_slashes_kept() {
        assert_eq!(
            percent_encode_key("bucket/pre fix/artifact/ab/cd+é"),
            "bucket/pre%20fix/artifact/ab/cd%2B%C3%A9"
        );
    }

    #[test]
    fn profiles_are_read_from_ini_files() {
        let text = "[default]\naws_access_key_id = A\n[profile other]\nregion=garage\n";
        assert_eq!(
            ini_value(text, "default", "aws_access_key_id").as_deref(),
            Some("A")
        );
        assert_eq!(
            ini_value(text, "other", "region").as_deref(),
            Some("garage")
        );
        assert_eq!(ini_value(text, "default", "region"), None);
    }
}
