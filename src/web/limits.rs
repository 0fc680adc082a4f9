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
/// proxies. Then `X-Forwarded-For` is walked from the right (the entry the nearest proxy
/// appended first): trusted proxies are passed over, and the first other entry is the client.
/// An entry that is not an address (`unknown`, an obfuscated `_hidden`, garbage) ends the walk
/// at the hop that wrote it, the last trusted address: an entry further left was chosen by the
/// client and is never taken. A header from any other peer is ignored (anyone can send one).
pub fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let header = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let mut last_trusted = peer;
    for entry in header.rsplit(',') {
        match forwarded_address(entry) {
            Some(addr) if trusted.contains(&addr) => last_trusted = addr,
            Some(addr) => return Some(addr),
            None => return Some(last_trusted),
        }
    }
    Some(last_trusted)
}

/// One `X-Forwarded-For` entry as proxies write it: `203.0.113.9`, `203.0.113.9:4711`
/// (Azure, some ingress controllers), `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`,
/// possibly quoted; `None` for anything else.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    let addr = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })?;
    Some(addr.to_canonical())
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

    /// `X-Forwarded-For` as real proxies write it, behind the trusted proxy 10.0.0.1 (and, in
    /// the last rows, a second trusted hop 10.0.0.2): the client address the app counts.
    #[test]
    fn forwarded_for_as_proxies_write_it() {
        use actix_web::test::TestRequest;
        let trusted: [IpAddr; 2] = ["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        let cases = [
            // nginx `$proxy_add_x_forwarded_for`, HAProxy `option forwardfor`, Envoy, AWS ALB,
            // Google's load balancers: bare addresses, the client's own entries first.
            ("198.51.100.7", "198.51.100.7"),
            ("203.0.113.9, 198.51.100.7", "198.51.100.7"),
            ("2001:db8::7", "2001:db8::7"),
            // Azure Application Gateway and some ingress controllers add the client's port.
            ("203.0.113.9, 198.51.100.7:54321", "198.51.100.7"),
            ("[2001:db8::7]:54321", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("\"198.51.100.7\"", "198.51.100.7"),
            // An IPv4 address written as IPv6.
            ("::ffff:198.51.100.7", "198.51.100.7"),
            // Squid's `forwarded_for off`, RFC 7239's obfuscated identifiers, garbage: the walk
            // ends at the proxy that wrote them, never at a client-chosen entry further left.
            ("203.0.113.9, unknown", "10.0.0.1"),
            ("203.0.113.9, _hidden", "10.0.0.1"),
            ("203.0.113.9, not an address", "10.0.0.1"),
            ("203.0.113.9, ", "10.0.0.1"),
            // Two trusted hops: both are passed over.
            ("198.51.100.7, 10.0.0.2", "198.51.100.7"),
            ("203.0.113.9, 198.51.100.7:1, 10.0.0.2:443", "198.51.100.7"),
            ("203.0.113.9, unknown, 10.0.0.2", "10.0.0.2"),
        ];
        for (header, client) in cases {
            let req = TestRequest::default()
                .peer_addr("10.0.0.1:5000".parse().unwrap())
                .insert_header(("X-Forwarded-For", header))
                .to_http_request();
            assert_eq!(
                client_address(&req, &trusted),
                Some(client.parse().unwrap()),
                "{header:?}"
            );
        }
        // No header: the proxy itself.
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .to_http_request();
        assert_eq!(client_address(&req, &trusted), Some(trusted[0]));
    }
}
