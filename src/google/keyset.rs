//! The provider's signing keys, cached: one type for both verifiers that need them — ID tokens
//! (the keys named by the discovery document) and Security Event Tokens (the keys named by the
//! RISC configuration). Each caches its document together with the key set it names, and the
//! rules are the same: the document is trusted until it expires; when a token names a key it
//! does not list, the keys are fetched again, at most once a [`MIN_REFETCH`] (anyone can send
//! such a token); when fetching again fails, the previous document is kept rather than failing
//! every token.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::CoreJsonWebKeySet;
use tokio::sync::RwLock;

/// The least time between two fetches caused by a token naming a key we do not know, and the
/// shortest time fetched keys are kept.
pub const MIN_REFETCH: Duration = Duration::from_secs(60);

/// A document fetched with its key set (`T`), and until when it is trusted.
pub struct KeySetCache<T> {
    /// What is cached, for the logs ("discovery", "RISC configuration").
    what: &'static str,
    cached: RwLock<Option<(Instant, Arc<T>)>>,
    /// When an unknown key last made us fetch again.
    last_refetch: Mutex<Option<Instant>>,
    /// After a failed fetch, how long the previous document is used before trying again
    /// (`None`: it is tried again at the next use).
    hold_stale: Option<Duration>,
}

impl<T> KeySetCache<T> {
    pub fn new(what: &'static str) -> Self {
        Self {
            what,
            cached: RwLock::new(None),
            last_refetch: Mutex::new(None),
            hold_stale: None,
        }
    }

    /// After a failed fetch, the previous document is used for `hold` before fetching again
    /// (not asked again for every token while the provider is down).
    pub fn holding_stale_for(self, hold: Duration) -> Self {
        Self {
            hold_stale: Some(hold),
            ..self
        }
    }

    /// The cached document, fetched with `fetch` (which says how long to trust it) when there
    /// is none or it expired. When fetching again fails, the previous one is kept (with a
    /// warning).
    pub async fn get<F, Fut, E>(&self, fetch: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Duration), E>>,
        E: std::fmt::Display,
    {
        self.load(false, fetch).await.map(|(value, _)| value)
    }

    /// A token names a key the cached document does not list (the provider may have rotated
    /// its keys): fetched again when the last such fetch is at least [`MIN_REFETCH`] old — a
    /// failure is then an error —, otherwise as [`get`](Self::get). Returns whether the
    /// document was fetched just now.
    pub async fn refetch<F, Fut, E>(&self, fetch: F) -> Result<(Arc<T>, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Duration), E>>,
        E: std::fmt::Display,
    {
        let due = {
            let mut last = self.last_refetch.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|at| at.elapsed() >= MIN_REFETCH);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        self.load(due, fetch).await
    }

    async fn load<F, Fut, E>(&self, force: bool, fetch: F) -> Result<(Arc<T>, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Duration), E>>,
        E: std::fmt::Display,
    {
        let cached = self.cached.read().await.clone();
        if let Some((until, value)) = &cached {
            if !force && Instant::now() < *until {
                return Ok((value.clone(), false));
            }
        }
        match fetch().await {
            Ok((value, ttl)) => {
                let value = Arc::new(value);
                *self.cached.write().await = Some((Instant::now() + ttl, value.clone()));
                Ok((value, true))
            }
            Err(e) => match cached {
                Some((_, stale)) if !force => {
                    tracing::warn!(error = %e, what = self.what, "fetching again failed; keeping the previous one");
                    if let Some(hold) = self.hold_stale {
                        *self.cached.write().await = Some((Instant::now() + hold, stale.clone()));
                    }
                    Ok((stale, false))
                }
                _ => Err(e),
            },
        }
    }
}

/// Fetches the key set at `url` (counted as a call to `jwks`), with the `max-age` of its
/// `Cache-Control` when it has one.
pub async fn fetch_keys(
    http: &reqwest::Client,
    url: url::Url,
) -> anyhow::Result<(CoreJsonWebKeySet, Option<Duration>)> {
    let request = http.get(url).header("Accept", "application/json");
    let response = super::send("jwks", request)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| anyhow::anyhow!("fetching the provider's keys: {e}"))?;
    let max_age = max_age(response.headers());
    let body = response
        .bytes()
        .await
        .map_err(|e| anyhow::anyhow!("reading the provider's keys: {e}"))?;
    let keys =
        serde_json::from_slice(&body).map_err(|e| anyhow::anyhow!("the provider's keys: {e}"))?;
    Ok((keys, max_age))
}

/// The `max-age` of a `Cache-Control` header.
fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|d| d.trim().strip_prefix("max-age=")?.trim().parse().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_max_age_is_read_from_cache_control() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(max_age(&headers), None);
        headers.insert(
            reqwest::header::CACHE_CONTROL,
            "public, max-age=19800, must-revalidate, no-transform"
                .parse()
                .unwrap(),
        );
        assert_eq!(max_age(&headers), Some(Duration::from_secs(19800)));
        headers.insert(reqwest::header::CACHE_CONTROL, "no-cache".parse().unwrap());
        assert_eq!(max_age(&headers), None);
    }

    #[tokio::test]
    async fn an_unknown_key_fetches_again_at_most_once_a_minute() {
        let cache = KeySetCache::<u32>::new("test");
        let fetches = &std::sync::atomic::AtomicU32::new(0);
        let fetch = move || async move {
            let n = fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            Ok::<_, String>((n, Duration::from_secs(3600)))
        };
        assert_eq!(*cache.get(fetch).await.unwrap(), 1);
        assert_eq!(*cache.get(fetch).await.unwrap(), 1, "cached");
        let (value, fresh) = cache.refetch(fetch).await.unwrap();
        assert_eq!((*value, fresh), (2, true));
        let (value, fresh) = cache.refetch(fetch).await.unwrap();
        assert_eq!((*value, fresh), (2, false), "not again within the minute");
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_the_previous_document_but_a_forced_one_fails() {
        let cache = KeySetCache::<u32>::new("test");
        let ok = || async { Ok::<_, String>((1, Duration::ZERO)) };
        let down = || async { Err::<(u32, Duration), _>("down".to_string()) };
        assert_eq!(*cache.get(ok).await.unwrap(), 1);
        assert_eq!(*cache.get(down).await.unwrap(), 1, "stale kept");
        assert!(cache.refetch(down).await.is_err());
    }
}
