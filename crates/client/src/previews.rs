//! Shared previews (`/v1/apps/{app}/shares`, `…/channels/{channel}/visibility`, see the
//! control plane's `api/previews`): share links and public channels.

use std::time::Duration;

use serde_json::json;
pub use switchyard_model::share::{Previews, ShareCreated, ShareInfo, Visibility};

use crate::{Client, Error};

/// What a share link opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareTarget {
    /// A channel other than `live`, e.g. `preview`.
    Channel(String),
    /// One version, e.g. `v3`.
    Version(String),
}

impl Client {
    /// Makes a share link to `target` of `app`, valid for `expires_in` (whole seconds).
    pub async fn create_share(
        &self,
        app: &str,
        target: &ShareTarget,
        expires_in: Duration,
    ) -> Result<ShareCreated, Error> {
        let body = match target {
            ShareTarget::Channel(c) => json!({ "channel": c, "expires_in": expires_in.as_secs() }),
            ShareTarget::Version(v) => json!({ "version": v, "expires_in": expires_in.as_secs() }),
        };
        self.post(&format!("apps/{app}/shares"), body).await
    }

    /// The app's public channels and share links (never their tokens).
    pub async fn previews(&self, app: &str) -> Result<Previews, Error> {
        self.get(&format!("apps/{app}/shares")).await
    }

    /// Revokes share link `id` of `app`.
    pub async fn revoke_share(&self, app: &str, id: &str) -> Result<ShareInfo, Error> {
        self.delete(&format!("apps/{app}/shares/{id}")).await
    }

    /// Makes `channel` of `app` public (anyone may open it) or private (share links only).
    pub async fn set_public(&self, app: &str, channel: &str, public: bool) -> Result<Visibility, Error> {
        let url = self.url(&format!("apps/{app}/channels/{channel}/visibility"));
        self.send(self.http.put(&url).json(&json!({ "public": public })), url).await
    }
}
