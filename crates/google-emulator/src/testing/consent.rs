//! The consent screen walked as a browser walks it: open the authorization URL (the account
//! chooser and the consent form are one page, whose form carries a hidden CSRF token), then
//! post the form with an account, Allow or Cancel, and the ticked scopes. The one piece of code
//! that reads the consent form, for the emulator's tests, the app's tests and the benchmark.

/// The name of the consent form's hidden CSRF field.
pub const CSRF_FIELD: &str = crate::state::formtoken::FIELD;

/// The value of the consent page's hidden `csrf_token` input (`None`: no consent form).
pub fn csrf_token(html: &str) -> Option<String> {
    let input = &html[html.find(&format!("name=\"{CSRF_FIELD}\""))?..];
    let value = &input[input.find("value=\"")? + "value=\"".len()..];
    Some(value[..value.find('"')?].to_string())
}

/// What the person on the consent screen does.
#[derive(Debug, Clone, Copy)]
pub struct Consent<'a> {
    /// The account picked in the chooser.
    pub account: &'a str,
    /// The button: `allow` or `cancel`.
    pub action: &'a str,
    /// The scope checkboxes ticked; `None`: every requested scope but `openid`, `email` and
    /// `profile` (which have no checkbox).
    pub ticked: Option<&'a [&'a str]>,
}

impl<'a> Consent<'a> {
    /// `account` allows every requested scope.
    pub fn allow(account: &'a str) -> Self {
        Consent {
            account,
            action: "allow",
            ticked: None,
        }
    }
}

/// The form a browser posts for the authorization request `params`: the request's own
/// parameters, the CSRF token (none: the field is left out), the account, the button and the
/// ticked scopes.
pub fn consent_form(
    params: &[(String, String)],
    token: Option<&str>,
    account: &str,
    action: &str,
    ticked: &[&str],
) -> Vec<(String, String)> {
    let mut form = params.to_vec();
    if let Some(t) = token {
        form.push((CSRF_FIELD.into(), t.into()));
    }
    form.push(("account".into(), account.into()));
    form.push(("action".into(), action.into()));
    for s in ticked {
        form.push(("granted_scope".into(), s.to_string()));
    }
    form
}

/// Posts a consent `form` to `url` (the authorization endpoint) as a browser does.
pub async fn post_consent_form(
    client: &reqwest::Client,
    url: &str,
    form: &[(String, String)],
) -> reqwest::Result<reqwest::Response> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    client
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
}

/// Walks the account chooser and consent form at `auth_url` with `client` (its cookies, if it
/// keeps any) and returns where the emulator sends the browser back: the redirect's Location.
/// When the emulator skips the screen (the account's consent already covers the request) that
/// redirect is the answer at once — unless the walk meant to cancel, which is an error.
pub async fn walk_consent(
    client: &reqwest::Client,
    auth_url: &str,
    consent: Consent<'_>,
) -> Result<String, String> {
    let url = url::Url::parse(auth_url).map_err(|e| format!("{auth_url}: {e}"))?;
    let page = client
        .get(auth_url)
        .send()
        .await
        .map_err(|e| format!("the consent page: {e}"))?;
    if page.status().is_redirection() {
        if consent.action != "allow" {
            return Err(format!(
                "the emulator skipped the consent screen, so it could not {}",
                consent.action
            ));
        }
        return location_of(&page);
    }
    let status = page.status();
    let html = page
        .text()
        .await
        .map_err(|e| format!("the consent page: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("the consent page answered {status}: {html}"));
    }
    let token = csrf_token(&html).ok_or("the consent page has no CSRF token")?;
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let requested: Vec<&str>;
    let ticked = match consent.ticked {
        Some(ticked) => ticked,
        None => {
            requested = params
                .iter()
                .filter(|(k, _)| k == "scope")
                .flat_map(|(_, v)| v.split(' '))
                .filter(|s| !matches!(*s, "openid" | "email" | "profile" | ""))
                .collect();
            &requested
        }
    };
    let form = consent_form(
        &params,
        Some(&token),
        consent.account,
        consent.action,
        ticked,
    );
    let mut post_url = url.clone();
    post_url.set_query(None);
    let answer = post_consent_form(client, post_url.as_str(), &form)
        .await
        .map_err(|e| format!("the consent POST: {e}"))?;
    if !answer.status().is_redirection() {
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        return Err(format!("the consent POST answered {status}: {body}"));
    }
    location_of(&answer)
}

fn location_of(res: &reqwest::Response) -> Result<String, String> {
    res.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("{} answered {} without a Location", res.url(), res.status()))
}
