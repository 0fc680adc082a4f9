//! [`Emu`]: an emulator started on port 0 with the tests' web client registered, and a client
//! that speaks to it as a browser and an app do (authorization requests, the consent form,
//! token calls, APIs, controls).

use std::collections::HashMap;
use std::net::TcpListener;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::redirect::Policy;
use serde_json::Value;

use super::consent::{consent_form, csrf_token, post_consent_form};
use crate::{ClientKind, ClientRegistration, Emulator, Options};

pub const CLIENT_ID: &str = "test-web.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-test-secret";
pub const REDIRECT: &str = "http://127.0.0.1:9999/oauth2callback";
pub const DRIVE_META: &str = "https://www.googleapis.com/auth/drive.metadata.readonly";
pub const GMAIL_RO: &str = "https://www.googleapis.com/auth/gmail.readonly";
pub const GMAIL_META: &str = "https://www.googleapis.com/auth/gmail.metadata";
pub const EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
pub const PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";
pub const BASIC: &str = "openid email profile";

pub struct Emu {
    pub url: String,
    pub emulator: Emulator,
    /// No redirects, no cookies.
    pub http: reqwest::Client,
}

pub fn http_client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(cookies)
        .build()
        .expect("client")
}

pub async fn start() -> Emu {
    start_with(Options::default()).await
}

pub async fn start_with(options: Options) -> Emu {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let (emulator, server) = crate::start(listener, options).expect("start");
    tokio::spawn(server);
    Emu::of(emulator)
}

impl Emu {
    /// A started emulator with the tests' web client registered.
    pub fn of(emulator: Emulator) -> Emu {
        emulator.register_client(ClientRegistration {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            kind: ClientKind::Web,
            redirect_uris: vec![REDIRECT.into()],
        });
        Emu {
            url: emulator.url.clone(),
            emulator,
            http: http_client(false),
        }
    }
}

/// Query parameters of a redirect's Location (or any URL).
pub fn query(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location).expect("url");
    url.query_pairs().into_owned().collect()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .expect("a readable Location")
        .to_string()
}

/// Decodes a JWT's header and claims without checking anything.
pub fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut it = jwt.split('.').map(|part| {
        let json = URL_SAFE_NO_PAD.decode(part).expect("a base64url JWT part");
        serde_json::from_slice(&json).expect("a JSON JWT part")
    });
    let header = it.next().expect("a JWT header");
    let claims = it.next().expect("JWT claims");
    (header, claims)
}

impl Emu {
    pub fn auth_params<'a>(
        &self,
        scope: &'a str,
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = vec![
            ("client_id".into(), CLIENT_ID.into()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("response_type".into(), "code".into()),
            ("scope".into(), scope.into()),
            ("state".into(), "st-123".into()),
        ];
        for (k, v) in extra {
            p.retain(|(kk, _)| kk != k);
            p.push((k.to_string(), v.to_string()));
        }
        p
    }

    pub fn auth_url(&self, params: &[(String, String)]) -> String {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("{}/o/oauth2/v2/auth?{q}", self.url)
    }

    pub async fn get_auth(
        &self,
        client: &reqwest::Client,
        params: &[(String, String)],
    ) -> reqwest::Response {
        client
            .get(self.auth_url(params))
            .send()
            .await
            .expect("GET auth")
    }

    /// The CSRF token of the consent page for `params` (`None` when the GET answers no
    /// page: an error, or a redirect).
    pub async fn consent_token(
        &self,
        client: &reqwest::Client,
        params: &[(String, String)],
    ) -> Option<String> {
        let res = self.get_auth(client, params).await;
        if res.status() != 200 {
            return None;
        }
        csrf_token(&res.text().await.expect("consent page"))
    }

    /// Submits the consent form as a browser would: opens the page for its CSRF token, then
    /// posts the request's parameters with the account, action and ticked scopes.
    pub async fn post_consent(
        &self,
        client: &reqwest::Client,
        params: &[(String, String)],
        account: &str,
        action: &str,
        ticked: &[&str],
    ) -> reqwest::Response {
        let token = self.consent_token(client, params).await;
        self.post_consent_with_token(client, params, token.as_deref(), account, action, ticked)
            .await
    }

    /// Posts the consent form with `token` as its CSRF token (none: the field is left out).
    pub async fn post_consent_with_token(
        &self,
        client: &reqwest::Client,
        params: &[(String, String)],
        token: Option<&str>,
        account: &str,
        action: &str,
        ticked: &[&str],
    ) -> reqwest::Response {
        let form = consent_form(params, token, account, action, ticked);
        post_consent_form(client, &format!("{}/o/oauth2/v2/auth", self.url), &form)
            .await
            .expect("POST consent")
    }

    /// Allows every requested scope for `account`; returns the redirect's query.
    pub async fn sign_in(
        &self,
        account: &str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> HashMap<String, String> {
        let params = self.auth_params(scope, extra);
        let ticked: Vec<&str> = scope.split(' ').collect();
        let res = self
            .post_consent(&self.http, &params, account, "allow", &ticked)
            .await;
        assert_eq!(res.status(), 302, "{:?}", res.text().await);
        query(&location(&res))
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/token", self.url))
            .form(form)
            .send()
            .await
            .expect("POST /token");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn exchange(&self, code: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await
    }

    /// Signs in and exchanges the code: the token response.
    pub async fn tokens(&self, account: &str, scope: &str, extra: &[(&str, &str)]) -> Value {
        let q = self.sign_in(account, scope, extra).await;
        let (status, body) = self.exchange(&q["code"]).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn api(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("API call")
    }

    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}/emulator{path}", self.url));
        // Every control that changes something takes JSON, even without anything to say.
        match body {
            Some(b) => req = req.json(&b),
            None if method != reqwest::Method::GET => req = req.json(&serde_json::json!({})),
            None => {}
        }
        let res = req.send().await.expect("control");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `GET path` and its JSON body (discovery, the certs documents).
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("a JSON body")
    }

    pub async fn post_control(&self, path: &str, body: Value) -> (u16, Value) {
        self.control(reqwest::Method::POST, path, Some(body)).await
    }
}
