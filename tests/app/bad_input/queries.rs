//! Hostile query strings on every route, and path parameters that do not parse.

use super::*;

on_both_backends! {
    with app_on;
    async fn hostile_query_strings_on_every_route_get_answers_below_500(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        for who in [Who::Anonymous, Who::Admin] {
            let client = client(&app, who);
            for (method, path) in routes(id) {
                for (what, query) in hostile_queries() {
                    let what = format!("{who:?} {method} {path} with {what}");
                    let resp = client
                        .request(method.clone(), format!("{}{path}?{query}", app.addr))
                        .send()
                        .await
                        .unwrap();
                    let (status, _) = answered(&what, resp).await;
                    // The admin pages read their parameters strictly.
                    let strict = (path == "/admin/users"
                        && (query.contains("filter=") || query.contains("after=")))
                        || (path == "/admin/audit" && query.contains("before="));
                    if who == Who::Admin && strict {
                        assert!(status.is_client_error(), "{what}: {status}");
                    }
                }
                // Over 16 KiB of address: 414 before anything else happens.
                let what = format!("{who:?} {method} {path} with a 20 KB query");
                let resp = client
                    .request(method.clone(), format!("{}{path}?{}", app.addr, query_of_size(20 * 1024)))
                    .send()
                    .await
                    .unwrap();
                let (status, body) = answered(&what, resp).await;
                assert_eq!(status, StatusCode::URI_TOO_LONG, "{what}");
                if path == "/authcode" {
                    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(json["error"], "request_too_large");
                } else {
                    assert!(body.contains("That address is too long"), "{what}: {body}");
                }
            }
        }
        // Repeated parameters where they are read: refused, not one of them picked.
        for (path, query) in [
            ("/", "page=2&page_token=A&page=3"),
            ("/gmail", "page=1&page=2"),
            ("/oauth2callback", "code=a&code=b&state=x&state=y"),
            ("/admin/users", "filter=blocked&filter=needs_consent"),
            ("/admin/audit", "before=5&before=6"),
        ] {
            let resp = app.get(&format!("{path}?{query}")).await;
            let what = format!("{path}?{query}");
            let (status, _) = answered(&what, resp).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        }
        before.still(&app).await;
        still_serves(&app).await;
    }

    async fn unparsable_path_parameters_are_404_pages_that_do_not_repeat_them(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        let segments = [
            "abc".to_string(),
            "%ff%fe".into(),
            "99999999999999999999".into(),
            "1.5".into(),
            "0x10".into(),
            " 1".into(),
            enc(MARK),
            "9".repeat(5000),
        ];
        for segment in &segments {
            for (method, pattern) in [
                (Method::GET, "/admin/users/{}"),
                (Method::GET, "/admin/users/{}/revoke"),
                (Method::POST, "/admin/users/{}/revoke"),
                (Method::POST, "/admin/users/{}/unblock"),
            ] {
                let path = pattern.replace("{}", segment);
                let what = format!("{method} {}", &path[..path.len().min(60)]);
                let resp = app
                    .client
                    .request(method.clone(), format!("{}{path}", app.addr))
                    .form(&[("csrf", "x")])
                    .send()
                    .await
                    .unwrap();
                assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{what}");
                let (status, body) = answered(&what, resp).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
                assert!(body.contains("Page not found"), "{what}: {body}");
                assert!(!body.contains("0x10") && !body.contains("99999"), "{what}: {body}");
                // Signed out, the same address is only a way to sign in: nothing is parsed.
                let resp = anonymous()
                    .request(method.clone(), format!("{}{path}", app.addr))
                    .form(&[("csrf", "x")])
                    .send()
                    .await
                    .unwrap();
                let (status, _) = answered(&what, resp).await;
                assert_eq!(status, StatusCode::SEE_OTHER, "{what} signed out");
            }
        }
        // An id that parses but names nobody.
        let resp = app.get("/admin/users/-1").await;
        assert_eq!(answered("-1", resp).await.0, StatusCode::NOT_FOUND);
        let resp = app.get(&format!("/admin/users/{id}")).await;
        assert_eq!(resp.status(), StatusCode::OK, "the real one");
        before.still(&app).await;
        still_serves(&app).await;
    }
}
