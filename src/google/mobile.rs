//! The server clients that mobile apps' one-time codes (`serverAuthCode`) are redeemed with:
//! one default (the web client unless configured otherwise) and optional per-platform ones, as
//! Google Sign-In's `setAndroidServerClientID` / `setiOSServerClientID` name them.

use std::sync::Arc;

use super::oauth::{self, OAuth};

/// The server clients mobile apps' codes are redeemed with: one default (the web client unless
/// configured otherwise) and optional per-platform ones.
pub struct MobileClients {
    pub default: Arc<OAuth>,
    pub android: Option<Arc<OAuth>>,
    pub ios: Option<Arc<OAuth>>,
    /// Allowed `azp` values (the apps' own client ids); empty: any.
    pub app_client_ids: Vec<String>,
}

impl MobileClients {
    /// Every server client, for the vault to refresh their grants.
    pub fn all(&self) -> Vec<Arc<OAuth>> {
        [
            Some(&self.default),
            self.android.as_ref(),
            self.ios.as_ref(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }

    /// The client for `platform`, else the one the app's ID token is addressed to, else the
    /// default.
    pub fn choose(&self, platform: Option<Platform>, app_id_token: Option<&str>) -> &Arc<OAuth> {
        let of = |p| match p {
            Platform::Android => self.android.as_ref(),
            Platform::Ios => self.ios.as_ref(),
        };
        if let Some(p) = platform {
            return of(p).unwrap_or(&self.default);
        }
        if let Some(token) = app_id_token {
            let audiences = oauth::unverified_audiences(token);
            if let Some(c) = [self.android.as_ref(), self.ios.as_ref()]
                .into_iter()
                .flatten()
                .find(|c| audiences.contains(&c.config().client_id))
            {
                return c;
            }
        }
        &self.default
    }
}

/// The platform an app says it runs on (`platform` in its request).
#[derive(Debug, Clone, Copy)]
pub enum Platform {
    Android,
    Ios,
}
