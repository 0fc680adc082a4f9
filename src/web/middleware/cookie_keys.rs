//! Session cookies made under a previous key keep working while that key is listed in
//! `SECRET_KEYS_PREVIOUS`. actix-session knows one key, so this middleware, just outside it,
//! opens a cookie the current key cannot, under each previous key in turn; one that opens is
//! sealed again under the current key — in the request, so the session middleware finds its
//! session, and in the response, so the browser holds the new form and the visitor stays
//! signed in once the old key is dropped. Without previous keys it does nothing.

use std::future::Future;

use actix_web::cookie::{time::Duration, Cookie, CookieJar, Key, SameSite};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, COOKIE, SET_COOKIE};
use actix_web::Error;

#[derive(Clone)]
pub struct SessionCookieKeys {
    name: String,
    current: Key,
    previous: Vec<Key>,
    secure: bool,
    ttl: Duration,
}

impl SessionCookieKeys {
    pub fn new(
        name: &str,
        current: &[u8; 64],
        previous: &[[u8; 64]],
        secure: bool,
        ttl: Duration,
    ) -> Self {
        Self {
            name: name.to_string(),
            current: Key::from(current),
            previous: previous.iter().map(|k| Key::from(k)).collect(),
            secure,
            ttl,
        }
    }

    /// The session cookie's value sealed under the current key, when a previous key made the
    /// one `header` carries; the header rewritten with it.
    fn upgrade(&self, header: &str) -> Option<(String, String)> {
        let cookies: Vec<Cookie<'_>> = header
            .split(';')
            // Values are percent-encoded on the wire, as actix-web writes and reads them.
            .filter_map(|pair| Cookie::parse_encoded(pair.trim()).ok())
            .collect();
        let ours = cookies.iter().find(|c| c.name() == self.name)?;
        let mut jar = CookieJar::new();
        jar.add_original(ours.clone().into_owned());
        if jar.private(&self.current).get(&self.name).is_some() {
            return None;
        }
        let plain = self
            .previous
            .iter()
            .find_map(|key| jar.private(key).get(&self.name))?;
        let mut fresh = CookieJar::new();
        fresh.private_mut(&self.current).add(plain);
        let sealed = fresh.get(&self.name)?.value().to_string();
        let rewritten = cookies
            .iter()
            .map(|c| {
                let value = if c.name() == self.name {
                    sealed.as_str()
                } else {
                    c.value()
                };
                Cookie::new(c.name(), value).encoded().to_string()
            })
            .collect::<Vec<_>>()
            .join("; ");
        Some((sealed, rewritten))
    }

    /// The session key the request's session cookie carries, opened under the current key
    /// (after [`upgrade`] has sealed one made under a previous key again).
    pub fn session_key(&self, req: &ServiceRequest) -> Option<String> {
        let cookie = req.cookie(&self.name)?;
        let mut jar = CookieJar::new();
        jar.add_original(cookie);
        Some(
            jar.private(&self.current)
                .get(&self.name)?
                .value()
                .to_string(),
        )
    }

    fn set_cookie(&self, value: String) -> Option<HeaderValue> {
        let cookie = Cookie::build(self.name.clone(), value)
            .path("/")
            .secure(self.secure)
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(self.ttl)
            .finish();
        HeaderValue::from_str(&cookie.encoded().to_string()).ok()
    }
}

/// The middleware (registered just outside the session middleware).
pub fn upgrade<S, B>(
    keys: &SessionCookieKeys,
    mut req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
{
    let mut upgraded = None;
    if !keys.previous.is_empty() {
        let header = req
            .headers()
            .get_all(COOKIE)
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; ");
        if let Some((sealed, rewritten)) = keys.upgrade(&header) {
            if let Ok(value) = HeaderValue::from_str(&rewritten) {
                req.headers_mut().insert(COOKIE, value);
                upgraded = keys.set_cookie(sealed);
            }
        }
    }
    // Only a request whose cookie was upgraded pays for anything here.
    let upgraded = upgraded.map(|set_cookie| (format!("{}=", keys.name), set_cookie));
    let response = srv.call(req);
    async move {
        let mut res = response.await?;
        if let Some((name, set_cookie)) = upgraded {
            // The session middleware's own cookie (a renewed or ended session) wins.
            let already = res
                .headers()
                .get_all(SET_COOKIE)
                .any(|v| v.as_bytes().starts_with(name.as_bytes()));
            if !already {
                res.headers_mut().append(SET_COOKIE, set_cookie);
            }
        }
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_under(key: &[u8; 64], name: &str, value: &str) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(&Key::from(key))
            .add(Cookie::new(name.to_string(), value.to_string()));
        jar.get(name).unwrap().value().to_string()
    }

    #[test]
    fn a_cookie_made_under_a_previous_key_is_sealed_again_under_the_current_one() {
        let keys =
            SessionCookieKeys::new("oa_session", &[2; 64], &[[1; 64]], false, Duration::HOUR);
        let old = sealed_under(&[1; 64], "oa_session", "session-id");
        let (sealed, header) = keys
            .upgrade(&format!(
                "theme=dark; {}",
                Cookie::new("oa_session", old).encoded()
            ))
            .expect("upgraded");
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new("oa_session", sealed.clone()));
        let opened = jar.private(&Key::from(&[2; 64])).get("oa_session").unwrap();
        assert_eq!(opened.value(), "session-id");
        assert_eq!(
            header,
            format!(
                "theme=dark; {}",
                Cookie::new("oa_session", sealed.clone()).encoded()
            )
        );

        let current = sealed_under(&[2; 64], "oa_session", "session-id");
        assert!(keys
            .upgrade(&Cookie::new("oa_session", current).encoded().to_string())
            .is_none());
        let unknown = sealed_under(&[3; 64], "oa_session", "session-id");
        assert!(keys
            .upgrade(&Cookie::new("oa_session", unknown).encoded().to_string())
            .is_none());
        assert!(keys.upgrade("theme=dark").is_none());
    }
}
