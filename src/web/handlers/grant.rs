//! The pages of incremental and granular authorization that several areas share: a feature
//! whose scope the user did not grant (with a button that asks again), and a feature whose API
//! the provider does not offer.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use crate::web::errors::notice_page;
use crate::web::feature::Feature;
use crate::web::page::render;

/// A feature whose scope was not granted: say so, offer to ask again.
#[derive(Template)]
#[template(path = "pages/not_granted.html")]
struct NotGranted {
    feature: &'static str,
    grant_link: String,
}

pub fn not_granted(feature: Feature) -> HttpResponse {
    render(
        StatusCode::OK,
        NotGranted {
            feature: feature.label(),
            grant_link: feature.grant_link(),
        },
    )
}

/// The provider does not offer `feature`'s API to this app: say so plainly (nothing to retry).
pub fn not_offered(feature: Feature) -> HttpResponse {
    notice_page(
        StatusCode::OK,
        format!("{} is not available", feature.label()),
        format!(
            "{{provider}} does not offer the {} API to this app (it may not be enabled for this app's project, or the provider has no such service). Trying again will not help; the administrators can enable it.",
            feature.label()
        ),
    )
}
