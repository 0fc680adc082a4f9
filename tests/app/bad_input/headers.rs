//! Headers too large, and too many of them.

use super::*;

on_both_backends! {
    with app_on;
    async fn huge_headers_are_431_and_too_many_headers_an_answer(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        let filler = "a".repeat(64 * 1024);
        for who in [Who::Anonymous, Who::Admin] {
            for (method, path) in routes(id) {
                for header in ["x-filler", "cookie", "user-agent"] {
                    let what = format!("{who:?} {method} {path} with a 64 KB {header}");
                    let value = if header == "cookie" { format!("oa_session={filler}") } else { filler.clone() };
                    let resp = client(&app, who)
                        .request(method.clone(), format!("{}{path}", app.addr))
                        .header(header, value)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
                    assert_eq!(resp.headers()["x-frame-options"], "DENY", "{what}");
                    let (status, body) = answered(&what, resp).await;
                    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "{what}");
                    if path != "/authcode" {
                        assert!(body.contains("That request is too large"), "{what}: {body}");
                    }
                }
                // More headers than actix parses (96): its own refusal, still an answer. actix
                // closes the connection after it, so this goes on a connection of its own: the
                // requests after it must not race that close on a pooled connection.
                let fresh = match who {
                    Who::Anonymous => anonymous(),
                    Who::Admin => reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .cookie_provider(app.jar.clone())
                        .build()
                        .unwrap(),
                };
                let mut request = fresh.request(method.clone(), format!("{}{path}", app.addr));
                for i in 0..120 {
                    request = request.header(format!("x-h{i}"), "1");
                }
                let what = format!("{who:?} {method} {path} with 120 headers");
                let resp = request.send().await.unwrap_or_else(|e| panic!("{what}: {e:?}"));
                let (status, _) = answered(&what, resp).await;
                assert!(status.is_client_error(), "{what}: {status}");
            }
        }
        // Just under the limits: served as usual.
        let resp = app
            .client
            .get(format!("{}/?q={}", app.addr, "x".repeat(15 * 1024)))
            .header("x-filler", "a".repeat(24 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        before.still(&app).await;
        still_serves(&app).await;
    }
}
