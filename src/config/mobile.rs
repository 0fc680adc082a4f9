//! The mobile group: the server clients that redeem mobile apps' `serverAuthCode`s
//! (`MOBILE_`, `ANDROID_` and `IOS_SERVER_CLIENT_…`), the apps' own client ids
//! (`MOBILE_APP_CLIENT_IDS`) and the endpoint's rate (`AUTHCODE_RATE_PER_MINUTE`).

use secrecy::SecretString;

use super::google::ClientSecret;
use super::parsing::{bad, ConfigError, Lookup};

/// The server clients that redeem mobile apps' `serverAuthCode`s (`POST /authcode`): one
/// default (the web client when none is set) and optional per-platform ones, as Google Sign-In
/// lets an app name one server client for both platforms or one each.
#[derive(Debug, Clone, Default)]
pub struct MobileSettings {
    /// `MOBILE_SERVER_CLIENT_…`; `None`: the app's web client.
    pub default: Option<ClientSecret>,
    /// `ANDROID_SERVER_CLIENT_…`
    pub android: Option<ClientSecret>,
    /// `IOS_SERVER_CLIENT_…`
    pub ios: Option<ClientSecret>,
    /// `MOBILE_APP_CLIENT_IDS`: the Android/iOS client ids allowed as an ID token's `azp`
    /// (empty: any).
    pub app_client_ids: Vec<String>,
    /// `AUTHCODE_RATE_PER_MINUTE`: requests one address may make to `/authcode` a minute.
    pub per_minute: u32,
}

impl MobileSettings {
    pub(super) fn from_lookup(lookup: &Lookup) -> Result<Self, ConfigError> {
        let mobile = Self {
            default: server_client(lookup, "MOBILE")?,
            android: server_client(lookup, "ANDROID")?,
            ios: server_client(lookup, "IOS")?,
            app_client_ids: lookup.list("MOBILE_APP_CLIENT_IDS"),
            per_minute: lookup.number("AUTHCODE_RATE_PER_MINUTE", 30)?,
        };
        if mobile.per_minute == 0 {
            return Err(bad("AUTHCODE_RATE_PER_MINUTE must be at least 1"));
        }
        Ok(mobile)
    }
}

/// One server client from `{prefix}_SERVER_CLIENT_SECRET_FILE` (Google's download) or from
/// `{prefix}_SERVER_CLIENT_ID` with `{prefix}_SERVER_CLIENT_SECRET`; `None` when neither is set.
fn server_client(lookup: &Lookup, prefix: &str) -> Result<Option<ClientSecret>, ConfigError> {
    let file_var = format!("{prefix}_SERVER_CLIENT_SECRET_FILE");
    let id_var = format!("{prefix}_SERVER_CLIENT_ID");
    let secret_var = format!("{prefix}_SERVER_CLIENT_SECRET");
    match (
        lookup.get(&file_var),
        lookup.get(&id_var),
        lookup.get(&secret_var),
    ) {
        (None, None, None) => Ok(None),
        (Some(path), None, None) => ClientSecret::read(&file_var, &path).map(Some),
        (Some(_), _, _) => Err(bad(format!(
            "set {file_var}, or {id_var} with {secret_var}, not both"
        ))),
        (None, Some(client_id), Some(secret)) => Ok(Some(ClientSecret {
            client_id,
            client_secret: SecretString::from(secret),
            redirect_uris: vec![],
        })),
        (None, _, _) => Err(bad(format!(
            "{id_var} and {secret_var} must be set together"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{settings, KEY};

    #[test]
    fn mobile_server_clients_come_from_a_file_or_an_id_and_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("android.json");
        std::fs::write(
            &file,
            r#"{"web":{"client_id":"android-server.apps.googleusercontent.com","client_secret":"s2"}}"#,
        )
        .unwrap();
        let file = file.display().to_string();
        let s = settings(&[
            ("SECRET_KEY", KEY),
            ("ANDROID_SERVER_CLIENT_SECRET_FILE", &file),
            (
                "IOS_SERVER_CLIENT_ID",
                "ios-server.apps.googleusercontent.com",
            ),
            ("IOS_SERVER_CLIENT_SECRET", "s3"),
            (
                "MOBILE_APP_CLIENT_IDS",
                "a.apps.googleusercontent.com, b.apps.googleusercontent.com",
            ),
            ("TRUSTED_PROXIES", "10.0.0.1,::1"),
        ])
        .unwrap();
        assert!(s.mobile.default.is_none());
        assert_eq!(
            s.mobile.android.unwrap().client_id,
            "android-server.apps.googleusercontent.com"
        );
        assert_eq!(
            s.mobile.ios.unwrap().client_id,
            "ios-server.apps.googleusercontent.com"
        );
        assert_eq!(s.mobile.app_client_ids.len(), 2);
        assert_eq!(s.mobile.per_minute, 30);
        assert_eq!(s.trusted_proxies.len(), 2);

        let err = settings(&[("SECRET_KEY", KEY), ("IOS_SERVER_CLIENT_ID", "x")]).unwrap_err();
        assert!(err.0.contains("IOS_SERVER_CLIENT_SECRET"), "{err}");
        let err = settings(&[
            ("SECRET_KEY", KEY),
            ("MOBILE_SERVER_CLIENT_SECRET_FILE", "/nonexistent.json"),
        ])
        .unwrap_err();
        assert!(err.0.contains("MOBILE_SERVER_CLIENT_SECRET_FILE"), "{err}");
        let err = settings(&[("SECRET_KEY", KEY), ("TRUSTED_PROXIES", "nginx")]).unwrap_err();
        assert!(err.0.contains("TRUSTED_PROXIES"), "{err}");
    }
}
