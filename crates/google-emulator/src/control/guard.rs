//! Safety rules for the `/emulator/*` controls on a developer's machine. Any web page the
//! developer visits can make the browser send requests to `127.0.0.1:8081`; without these
//! rules it could reset the emulator, inject faults or mint sign-in codes (a cross-site
//! "simple" POST), or read the controls' answers after pointing its own host name at
//! 127.0.0.1 (DNS rebinding). So a control request must
//!
//! 1. name this emulator in `Host`: a loopback name with the bound port, the issuer's host, the
//!    bound address itself, or a host configured with `--allowed-host` (a rebinding page's
//!    requests carry the attacker's host name) → else 403 `forbidden_host`;
//! 2. carry no `Origin`, or this emulator's own → else 403 `forbidden_origin`;
//! 3. not be a CORS preflight: `OPTIONS` gets 405 and no `Access-Control-*` header;
//! 4. say `Content-Type: application/json` when it is a POST, PUT, PATCH or DELETE, which a
//!    page can only send after a preflight (refused above) → else 415.
//!
//! Google's own endpoints (OAuth, OpenID, Drive, Gmail) are not affected: they answer whatever
//! `Host` the configured issuer uses, as Google does.

use std::net::SocketAddr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::errors::json_response;

/// The hosts this emulator answers controls for.
#[derive(Debug, Clone)]
pub struct ControlPolicy {
    /// `host:port` authorities that are this emulator, lowercase.
    own: Vec<String>,
    /// Host names configured without a port (`--allowed-host NAME`), any port, lowercase.
    names: Vec<String>,
}

/// Whether an authority names a port (`name:80`, `[::1]:80`; not `name`, `[::1]`).
fn has_port(authority: &str) -> bool {
    match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    }
}

/// `host:port` of an authority, lowercase, with `default_port` when it names none.
fn with_port(authority: &str, default_port: u16) -> String {
    let authority = authority.to_ascii_lowercase();
    if has_port(&authority) {
        authority
    } else {
        format!("{authority}:{default_port}")
    }
}

/// The host part of an authority (`[::1]:80` → `[::1]`, `name:80` → `name`).
fn host_of(authority: &str) -> &str {
    match authority.rfind(']') {
        Some(end) => &authority[..=end],
        None => authority.split(':').next().unwrap_or(authority),
    }
}

impl ControlPolicy {
    /// The policy of an emulator listening on `bound`, announcing `issuer`, with `allowed`
    /// extra hosts (`NAME` for any port, `NAME:PORT` for one).
    pub fn new(bound: SocketAddr, issuer: &str, allowed: &[String]) -> Self {
        let port = bound.port();
        let mut own: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| format!("{h}:{port}"))
            .collect();
        if !bound.ip().is_unspecified() {
            own.push(bound.to_string());
        }
        if let Ok(url) = url::Url::parse(issuer) {
            if let (Some(host), Some(p)) = (url.host_str(), url.port_or_known_default()) {
                own.push(format!("{}:{p}", host.to_ascii_lowercase()));
            }
        }
        let mut names = vec![];
        for a in allowed {
            let a = a.trim().to_ascii_lowercase();
            if a.is_empty() {
                continue;
            }
            if has_port(&a) {
                own.push(a);
            } else {
                names.push(a);
            }
        }
        ControlPolicy { own, names }
    }

    /// Whether `authority` (a `Host` header, or the host part of an `Origin`) is this emulator.
    /// A `Host` without a port stands for the scheme's default port: 80 or 443.
    fn allows(&self, authority: &str) -> bool {
        let authority = authority.trim().to_ascii_lowercase();
        if self.names.iter().any(|n| n == host_of(&authority)) {
            return true;
        }
        [80, 443]
            .iter()
            .any(|default| self.own.contains(&with_port(&authority, *default)))
    }

    /// Whether an `Origin` header value is this emulator's own origin.
    fn allows_origin(&self, origin: &str) -> bool {
        match url::Url::parse(origin) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                match (url.host_str(), url.port_or_known_default()) {
                    (Some(host), Some(port)) => self.allows(&format!("{host}:{port}")),
                    _ => false,
                }
            }
            // `null` (sandboxed frames, file: pages, redirects) and anything else.
            _ => false,
        }
    }
}

fn refuse(status: u16, error: &str, message: &str) -> HttpResponse {
    json_response(status, &json!({"error": error, "message": message}))
}

/// Why a control request is refused, if it is.
fn check(policy: &ControlPolicy, req: &ServiceRequest) -> Option<HttpResponse> {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if !host.as_deref().is_some_and(|h| policy.allows(h)) {
        return Some(refuse(
            403,
            "forbidden_host",
            "The emulator's controls answer only requests addressed to the emulator itself \
             (Host 127.0.0.1, localhost or [::1] with its port, or its issuer's host); \
             start it with --allowed-host NAME to allow another host name.",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        if !origin.to_str().is_ok_and(|o| policy.allows_origin(o)) {
            return Some(refuse(
                403,
                "forbidden_origin",
                "The emulator's controls do not answer requests from web pages of other origins.",
            ));
        }
    }
    let method = req.method();
    if method == Method::OPTIONS {
        let mut res = refuse(
            405,
            "method_not_allowed",
            "The emulator's controls do not answer CORS preflights.",
        );
        res.headers_mut().insert(
            header::ALLOW,
            header::HeaderValue::from_static("GET, POST, PUT, DELETE"),
        );
        return Some(res);
    }
    let writes = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method);
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .and_then(|c| c.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if writes && !json {
        return Some(refuse(
            415,
            "unsupported_media_type",
            "Control requests that change something need Content-Type: application/json \
             (send {} when there is nothing to say).",
        ));
    }
    None
}

/// Middleware on the `/emulator` scope: applies the rules above before any control runs.
pub async fn guard_controls(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let refusal = match req.app_data::<web::Data<ControlPolicy>>() {
        Some(policy) => check(policy, &req),
        None => Some(refuse(500, "internal", "no control policy configured")),
    };
    match refusal {
        Some(res) => Ok(req.into_response(res).map_into_right_body()),
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(bound: &str, issuer: &str, allowed: &[&str]) -> ControlPolicy {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        ControlPolicy::new(bound.parse().unwrap(), issuer, &allowed)
    }

    #[test]
    fn loopback_names_with_the_bound_port() {
        let p = policy("127.0.0.1:8081", "http://127.0.0.1:8081", &[]);
        for ok in [
            "127.0.0.1:8081",
            "localhost:8081",
            "LOCALHOST:8081",
            "[::1]:8081",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1:8082",
            "localhost",
            "evil.example:8081",
            "127.0.0.1.evil.example:8081",
            "",
            "[::1]",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
    }

    #[test]
    fn issuer_and_configured_hosts() {
        let p = policy(
            "0.0.0.0:8081",
            "https://google.test",
            &["emu.internal", "box.lan:9000"],
        );
        assert!(p.allows("google.test"), "default port of the https issuer");
        assert!(p.allows("google.test:443"));
        assert!(!p.allows("google.test:8081"));
        assert!(
            p.allows("emu.internal:1234"),
            "a name without port: any port"
        );
        assert!(p.allows("emu.internal"));
        assert!(p.allows("box.lan:9000"));
        assert!(!p.allows("box.lan:9001"));
        assert!(!p.allows("0.0.0.0:8081"), "a wildcard is no one's address");
        let p = policy("192.168.1.5:8081", "http://192.168.1.5:8081", &[]);
        assert!(p.allows("192.168.1.5:8081"));
    }

    #[test]
    fn origins() {
        let p = policy("127.0.0.1:8081", "http://127.0.0.1:8081", &[]);
        assert!(p.allows_origin("http://127.0.0.1:8081"));
        assert!(p.allows_origin("http://localhost:8081"));
        for bad in [
            "null",
            "http://127.0.0.1:8080",
            "http://evil.example",
            "file://",
            "",
        ] {
            assert!(!p.allows_origin(bad), "{bad}");
        }
    }
}
