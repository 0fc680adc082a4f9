//! Reading the emulator's consent page as a browser would: the form's hidden CSRF token.
//! Shared by the emulator's tests, the app's tests and the load benchmark.

/// The name of the consent form's hidden CSRF field.
pub const CSRF_FIELD: &str = "csrf_token";

/// The value of the consent page's hidden `csrf_token` input (`None`: no consent form).
pub fn csrf_token(html: &str) -> Option<String> {
    let input = &html[html.find(&format!("name=\"{CSRF_FIELD}\""))?..];
    let value = &input[input.find("value=\"")? + "value=\"".len()..];
    Some(value[..value.find('"')?].to_string())
}
