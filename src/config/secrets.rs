//! The secrets group: the master key (`SECRET_KEY` or `SECRET_KEY_FILE`; with the emulator
//! and neither set, a generated development key in `data/secret.key`) and the retired ones
//! (`SECRET_KEYS_PREVIOUS` or `SECRET_KEYS_PREVIOUS_FILE`).

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::parsing::{bad, ConfigError, Lookup};

/// Minimum length of `SECRET_KEY`.
pub const MIN_SECRET_LEN: usize = 64;

/// The keys every other secret derives from.
pub(super) struct Secrets {
    /// Master secret; session and encryption keys are derived from it.
    pub current: SecretString,
    /// Retired secrets, the current one left out.
    pub previous: Vec<SecretString>,
}

impl Secrets {
    /// The secrets group; `emulated`: no provider is configured, so a development key may be
    /// generated.
    pub(super) fn from_lookup(lookup: &Lookup, emulated: bool) -> Result<Self, ConfigError> {
        let current = match lookup.value_or_file("SECRET_KEY")? {
            Some(key) => SecretString::from(key),
            None if emulated => load_or_generate_secret(Path::new("data/secret.key"))?,
            None => {
                return Err(bad(
                    "SECRET_KEY or SECRET_KEY_FILE must be set when GOOGLE_CLIENT_SECRET_FILE is \
                     (e.g. SECRET_KEY=\"$(openssl rand -base64 48)\")",
                ));
            }
        };
        if current.expose_secret().chars().count() < MIN_SECRET_LEN {
            return Err(bad(format!(
                "SECRET_KEY must be at least {MIN_SECRET_LEN} characters of random text \
                 (e.g. `openssl rand -base64 48`)"
            )));
        }
        let previous = previous_secrets(lookup, &current)?;
        Ok(Self { current, previous })
    }
}

/// `SECRET_KEYS_PREVIOUS` (separated by commas, spaces or newlines) or
/// `SECRET_KEYS_PREVIOUS_FILE` (one per line): retired keys, each as long as a current one.
fn previous_secrets(
    lookup: &Lookup,
    current: &SecretString,
) -> Result<Vec<SecretString>, ConfigError> {
    let Some(text) = lookup.value_or_file("SECRET_KEYS_PREVIOUS")? else {
        return Ok(Vec::new());
    };
    let mut keys = Vec::new();
    for (i, key) in text
        .split([',', ' ', '\n', '\r', '\t'])
        .filter(|k| !k.is_empty())
        .enumerate()
    {
        if key.chars().count() < MIN_SECRET_LEN {
            return Err(bad(format!(
                "SECRET_KEYS_PREVIOUS: key {} is shorter than {MIN_SECRET_LEN} characters; \
                 list whole retired SECRET_KEY values, separated by commas",
                i + 1
            )));
        }
        if key == current.expose_secret() {
            continue;
        }
        keys.push(SecretString::from(key.to_string()));
    }
    Ok(keys)
}

/// Reads the generated development secret, or creates it (mode 0600).
fn load_or_generate_secret(path: &Path) -> Result<SecretString, ConfigError> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok(SecretString::from(s.trim().to_string()));
    }
    use base64::Engine;
    use rand::RngCore;
    // 48 random bytes are 64 base64 characters.
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path)?;
        std::io::Write::write_all(&mut f, key.as_bytes())
    };
    write().map_err(|e| {
        bad(format!(
            "could not create {} ({e}); set SECRET_KEY or SECRET_KEY_FILE",
            path.display()
        ))
    })?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(SecretString::from(key))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{settings, KEY};
    use secrecy::ExposeSecret;

    #[test]
    fn previous_keys_are_listed_and_checked() {
        let old = "o".repeat(64);
        let older = "p".repeat(64);
        let s = settings(&[
            ("SECRET_KEY", KEY),
            ("SECRET_KEYS_PREVIOUS", &format!("{old}, {older}\n{KEY}")),
        ])
        .unwrap();
        let previous: Vec<&str> = s
            .secret_keys_previous
            .iter()
            .map(|k| k.expose_secret())
            .collect();
        assert_eq!(
            previous,
            [old.as_str(), older.as_str()],
            "the current key is skipped"
        );
        let err = settings(&[("SECRET_KEY", KEY), ("SECRET_KEYS_PREVIOUS", "short")]).unwrap_err();
        assert!(err.to_string().contains("key 1 is shorter"), "{err}");
        let err = settings(&[
            ("SECRET_KEY", KEY),
            ("SECRET_KEYS_PREVIOUS", &old),
            ("SECRET_KEYS_PREVIOUS_FILE", "/x"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        assert!(settings(&[("SECRET_KEY", KEY)])
            .unwrap()
            .secret_keys_previous
            .is_empty());
    }

    #[test]
    fn short_secret_is_refused_with_advice() {
        let err = settings(&[("SECRET_KEY", "short")]).unwrap_err();
        assert!(err.0.contains("at least 64"), "{err}");
    }

    #[test]
    fn both_secret_forms_are_refused() {
        let err = settings(&[("SECRET_KEY", KEY), ("SECRET_KEY_FILE", "/x")]).unwrap_err();
        assert!(err.0.contains("not both"), "{err}");
    }
}
