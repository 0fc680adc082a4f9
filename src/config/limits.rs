//! The limits group: per-address rates (`SIGN_IN_`, `ADMIN_`, `RISC_RATE_PER_MINUTE`), whose
//! address that is (`TRUSTED_PROXIES`), how long the provider is waited for
//! (`UPSTREAM_CONNECT_TIMEOUT_SECS`, `UPSTREAM_TIMEOUT_SECS`) and how long a session lasts
//! (`SESSION_TTL_HOURS`).

use super::parsing::{bad, ConfigError, Lookup};

/// Per-address allowances a minute (`SIGN_IN_RATE_PER_MINUTE`, `ADMIN_RATE_PER_MINUTE`; the
/// mobile endpoint's is in [`MobileSettings::per_minute`](super::MobileSettings::per_minute)).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub sign_in: u32,
    pub admin: u32,
    /// Security event tokens one address may push a minute (`RISC_RATE_PER_MINUTE`).
    pub risc: u32,
}

impl RateLimits {
    pub(super) fn from_lookup(lookup: &Lookup) -> Result<Self, ConfigError> {
        let limits = Self {
            sign_in: lookup.number("SIGN_IN_RATE_PER_MINUTE", 60)?,
            admin: lookup.number("ADMIN_RATE_PER_MINUTE", 120)?,
            risc: lookup.number("RISC_RATE_PER_MINUTE", 600)?,
        };
        if limits.sign_in == 0 || limits.admin == 0 || limits.risc == 0 {
            return Err(bad(
                "SIGN_IN_RATE_PER_MINUTE, ADMIN_RATE_PER_MINUTE and RISC_RATE_PER_MINUTE must be at least 1",
            ));
        }
        Ok(limits)
    }
}

/// Bounds on every call to the provider (`UPSTREAM_CONNECT_TIMEOUT_SECS`,
/// `UPSTREAM_TIMEOUT_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct UpstreamTimeouts {
    pub connect: std::time::Duration,
    pub total: std::time::Duration,
}

impl UpstreamTimeouts {
    pub(super) fn from_lookup(lookup: &Lookup) -> Result<Self, ConfigError> {
        let upstream = Self {
            connect: lookup.seconds("UPSTREAM_CONNECT_TIMEOUT_SECS", 5)?,
            total: lookup.seconds("UPSTREAM_TIMEOUT_SECS", 15)?,
        };
        if upstream.connect.is_zero() || upstream.total.is_zero() {
            return Err(bad(
                "UPSTREAM_CONNECT_TIMEOUT_SECS and UPSTREAM_TIMEOUT_SECS must be at least 1",
            ));
        }
        Ok(upstream)
    }
}

/// `TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` names the real client.
pub(super) fn trusted_proxies(lookup: &Lookup) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    lookup
        .list("TRUSTED_PROXIES")
        .iter()
        .map(|p| {
            p.parse().map_err(|_| {
                bad(format!(
                    "TRUSTED_PROXIES must list IP addresses (got {p:?})"
                ))
            })
        })
        .collect()
}

/// `SESSION_TTL_HOURS`: from an hour to a year, a week unless set.
pub(super) fn session_ttl(lookup: &Lookup) -> Result<chrono::Duration, ConfigError> {
    let hours: i64 = lookup.number("SESSION_TTL_HOURS", 24 * 7)?;
    if !(1..=24 * 366).contains(&hours) {
        return Err(bad("SESSION_TTL_HOURS must be between 1 and 8784 (a year)"));
    }
    Ok(chrono::Duration::hours(hours))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{settings, KEY};

    #[test]
    fn upstream_timeouts_and_the_provider_name_are_configurable() {
        let s = settings(&[("SECRET_KEY", KEY)]).unwrap();
        assert_eq!(s.upstream.connect.as_secs(), 5);
        assert_eq!(s.upstream.total.as_secs(), 15);
        assert_eq!(s.provider_name, "Google");
        let s = settings(&[
            ("SECRET_KEY", KEY),
            ("UPSTREAM_TIMEOUT_SECS", "3"),
            ("PROVIDER_NAME", "Example ID"),
        ])
        .unwrap();
        assert_eq!(s.upstream.total.as_secs(), 3);
        assert_eq!(s.provider_name, "Example ID");
        let err = settings(&[("SECRET_KEY", KEY), ("UPSTREAM_TIMEOUT_SECS", "0")]).unwrap_err();
        assert!(err.0.contains("UPSTREAM_TIMEOUT_SECS"), "{err}");
    }

    #[test]
    fn out_of_range_numbers_are_refused() {
        let err =
            settings(&[("SECRET_KEY", KEY), ("SESSION_TTL_HOURS", "99999999999")]).unwrap_err();
        assert!(err.0.contains("SESSION_TTL_HOURS"), "{err}");
        let err = settings(&[("SECRET_KEY", KEY), ("DB_POOL_SIZE", "0")]).unwrap_err();
        assert!(err.0.contains("DB_POOL_SIZE"), "{err}");
    }
}
