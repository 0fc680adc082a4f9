//! Every error page a signed-in visitor can reach offers Sign out: error pages are rendered
//! without knowing the session (the error may be about the session itself), so this step, just
//! inside the session middleware, renders them again with the button when the visitor is
//! signed in.

use super::errors::{ErrorContent, ErrorPage};
use super::page::render;

/// The same error page with a Sign out button, when `res` is one and its visitor is signed
/// in: every error page a signed-in user can reach lets them sign out.
pub fn offer_sign_out<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::dev::ServiceResponse<actix_web::body::EitherBody<B>> {
    use actix_session::SessionExt;
    let content = res.response().extensions().get::<ErrorContent>().cloned();
    let csrf = content.as_ref().and_then(|_| {
        let session = res.request().get_session();
        super::session::user_id(&session)?;
        session.get::<String>(super::csrf::KEY).ok().flatten()
    });
    let (Some(content), Some(csrf)) = (content, csrf) else {
        return res.map_into_left_body();
    };
    let status = res.status();
    let headers = res.headers().clone();
    res.map_body(|_, _| ())
        .map_into_boxed_body()
        .into_response({
            let mut resp = render(
                status,
                &ErrorPage {
                    title: &content.title,
                    message: &content.message,
                    try_again: content.try_again,
                    user: None,
                    sign_out: Some(&csrf),
                },
            );
            for (name, value) in headers.iter() {
                if name != actix_web::http::header::CONTENT_LENGTH {
                    resp.headers_mut().insert(name.clone(), value.clone());
                }
            }
            resp
        })
        .map_into_right_body()
}
