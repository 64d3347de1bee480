//! The content-addressed deploy protocol (`/v1/apps/{app}/deploys`, see the control plane's
//! `api/uploads`) and the version file listing `switchyard diff` reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchyard_model::Digest;

use crate::{Client, DeployOptions, Deployed, Error};

/// One file of a deploy's listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListedFile {
    pub path: String,
    pub sha256: Digest,
    pub size: u64,
}

/// The answer to opening a deploy: its id and the blobs the control plane lacks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenedDeploy {
    pub deploy: String,
    pub files: u64,
    pub bytes: u64,
    pub missing: Vec<Digest>,
    pub missing_bytes: u64,
}

/// One file of a version, as `GET …/versions/{v}/files` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionFile {
    pub sha256: Digest,
    pub size: u64,
    pub content_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionFiles {
    pub version: String,
    pub files: BTreeMap<String, VersionFile>,
}

impl Client {
    /// Opens a deploy of `files`; the answer names the digests to upload.
    pub async fn open_deploy(
        &self,
        app: &str,
        files: &[ListedFile],
        opts: &DeployOptions,
    ) -> Result<OpenedDeploy, Error> {
        let body = serde_json::json!({
            "files": files,
            "channel": opts.channel,
            "promote": opts.promote,
            "message": opts.message,
        });
        self.post(&format!("apps/{app}/deploys"), body).await
    }

    /// Uploads one blob of an open deploy.
    pub async fn upload_blob(&self, app: &str, deploy: &str, digest: &Digest, bytes: Vec<u8>) -> Result<(), Error> {
        let url = self.url(&format!("apps/{app}/deploys/{deploy}/blobs/{digest}"));
        let request = self.http.put(&url).header("content-type", "application/octet-stream").body(bytes);
        let _: serde_json::Value = self.send(request, url).await?;
        Ok(())
    }

    /// Creates the version of an open deploy whose blobs are all uploaded.
    pub async fn finalize_deploy(&self, app: &str, deploy: &str) -> Result<Deployed, Error> {
        self.post(&format!("apps/{app}/deploys/{deploy}/finalize"), serde_json::Value::Null).await
    }

    pub async fn version_files(&self, app: &str, version: &str) -> Result<VersionFiles, Error> {
        self.get(&format!("apps/{app}/versions/{version}/files")).await
    }
}

impl Error {
    /// Whether trying again may succeed: the control plane was not reached, or it answered
    /// 5xx, 408 or 429. Other 4xx answers are final.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Api { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Error::Decode { .. } => false,
        }
    }
}
