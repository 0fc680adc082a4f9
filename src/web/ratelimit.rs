//! Per-address rate limits (a token bucket per client address), and who the client is when a
//! trusted reverse proxy stands in front.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

/// Above this many remembered addresses, those whose bucket is full again are forgotten.
const MAX_TRACKED: usize = 10_000;

/// Allows each address `per_minute` requests a minute, in bursts of up to as many.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `addr`'s allowance; `Err(wait)` when it is used up, with how long
    /// until the next request is allowed.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&addr) {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < capacity
            });
        }
        let bucket = buckets.entry(addr).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_sec).min(capacity);
        bucket.at = now;
        if refilled >= 1.0 {
            bucket.tokens = refilled - 1.0;
            Ok(())
        } else {
            bucket.tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / per_sec))
        }
    }
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
