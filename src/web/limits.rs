//! Per-address rate limits (the `governor` crate's GCRA, one cell per address), and who the
//! client is when a trusted reverse proxy stands in front. The extractor that spends them on a
//! route is `extract::allowance`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
/// Above this many remembered addresses, those whose allowance is whole again are forgotten.
const MAX_TRACKED: usize = 10_000;

/// Allows each address `per_minute` requests a minute, in bursts of up to as many.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: governor::RateLimiter::dashmap(Quota::per_minute(per_minute)),
        }
    }

    /// Takes one request from `addr`'s allowance; `Err(wait)` when it is used up, with how long
    /// until the next request is allowed.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        if self.limiter.len() > MAX_TRACKED {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&addr)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The per-address limits of the routes anyone can hit (`SIGN_IN_RATE_PER_MINUTE`,
/// `AUTHCODE_RATE_PER_MINUTE`, `ADMIN_RATE_PER_MINUTE`).
pub struct Limits {
    pub sign_in: RateLimiter,
    pub authcode: RateLimiter,
    pub admin: RateLimiter,
    /// `POST /risc` (`RISC_RATE_PER_MINUTE`).
    pub risc: RateLimiter,
}

/// The address of the client behind `req`: the peer, unless the peer is one of `trusted`
/// proxies, in which case the last `X-Forwarded-For` entry that is not itself a trusted proxy.
/// A header from any other peer is ignored (anyone can send one).
pub fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_allowance_then_waits() {
        let limiter = RateLimiter::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        let wait = limiter.check(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limiter.check(a).is_err(), "still waiting");
        assert!(
            limiter.check(b).is_ok(),
            "another address has its own allowance"
        );
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        use actix_web::test::TestRequest;
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.9, 198.51.100.7"))
            .to_http_request();
        assert_eq!(
            client_address(&req, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(client_address(&req, &[]), Some(proxy));
    }
}
