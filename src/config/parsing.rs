//! What every group shares: the variables as one lookup (a `NAME` or the file `NAME_FILE`
//! names, numbers, lists, origins) and the error that says what to set.

use url::Url;

/// A configuration mistake: one line that says what to set.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

pub(super) fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Where the variables come from: the environment, or a map in tests. Each group reads its
/// own through it.
pub(super) struct Lookup<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Lookup<'a> {
    pub(super) fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(get)
    }

    /// The variable `name`, when set.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }

    /// The variable `name`, or `default`.
    pub(super) fn or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_string())
    }

    /// A whole number, `default` when unset.
    pub(super) fn number<T: std::str::FromStr + Copy>(
        &self,
        name: &str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| bad(format!("{name} must be a whole number (got {v:?})"))),
        }
    }

    /// A number of seconds (`…_SECS`), `default` when unset.
    pub(super) fn seconds(
        &self,
        name: &str,
        default: u64,
    ) -> Result<std::time::Duration, ConfigError> {
        self.number(name, default)
            .map(std::time::Duration::from_secs)
    }

    /// A comma- or space-separated list (empty when unset).
    pub(super) fn list(&self, name: &str) -> Vec<String> {
        list(self.get(name))
    }

    /// An http(s) origin, `default` when unset.
    pub(super) fn origin(&self, name: &str, default: &str) -> Result<Url, ConfigError> {
        parse_origin(name, &self.or(name, default))
    }

    /// `name` itself or the contents of the file `{name}_FILE` names, without the whitespace
    /// around them (a final newline); not both. `None` when neither is set.
    pub(super) fn value_or_file(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let file_var = format!("{name}_FILE");
        match (self.get(name), self.get(&file_var)) {
            (Some(_), Some(_)) => Err(bad(format!("set {name} or {file_var}, not both"))),
            (Some(value), None) => Ok(Some(value)),
            (None, Some(path)) => Ok(Some(read_file(&file_var, &path)?.trim().to_string())),
            (None, None) => Ok(None),
        }
    }
}

/// The file `path` that the variable `var` names.
pub(super) fn read_file(var: &str, path: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| bad(format!("{var}={path} cannot be read: {e}")))
}

/// A comma- or space-separated list.
pub(super) fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_origin(name: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| bad(format!("{name} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad(format!("{name} must be an http(s) URL, got {value:?}")));
    }
    Ok(url)
}
