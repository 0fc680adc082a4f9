//! Wrong methods and wrong content types and bodies on every route.

use super::*;

on_both_backends! {
    with app_on;
    async fn wrong_methods_get_405_with_allow_on_every_route(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        for (method, path) in routes(id) {
            for wrong in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO"] {
                let wrong = Method::from_bytes(wrong.as_bytes()).unwrap();
                for who in [Who::Anonymous, Who::Admin] {
                    let resp = client(&app, who)
                        .request(wrong.clone(), format!("{}{path}", app.addr))
                        .body(MARK)
                        .send()
                        .await
                        .unwrap();
                    let allow = resp.headers().get("allow").map(|a| a.to_str().unwrap().to_string());
                    let what = format!("{who:?} {wrong} {path}");
                    let (status, _) = answered(&what, resp).await;
                    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
                    let allow = allow.unwrap_or_else(|| panic!("{what}: no Allow"));
                    assert!(allow.contains(method.as_str()), "{what}: Allow: {allow}");
                }
            }
        }
        before.still(&app).await;
        still_serves(&app).await;
    }

    async fn wrong_content_types_and_bodies_on_post_routes_are_4xx(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
            (None, b"csrf=x".to_vec()),
            (Some("text/plain"), format!("csrf={MARK}").into_bytes()),
            (Some("application/json"), format!("{{\"csrf\":\"{MARK}\",\"authCode\":\"{MARK}\"}}").into_bytes()),
            (Some("multipart/form-data; boundary=zz"), format!("--zz\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{MARK}\r\n--zz--\r\n").into_bytes()),
            (Some("application/x-www-form-urlencoded; charset=utf-16"), vec![0xff, 0xfe, b'c', 0, b'=', 0]),
            (Some("application/xml"), format!("<a>{MARK}</a>").into_bytes()),
            (Some("%%%;;;=\"<oa"), b"csrf=x".to_vec()),
            (Some("application/x-www-form-urlencoded"), vec![0xff, 0xfe, b'=', 0, b'&', b'%', b'z']),
            (Some("application/x-www-form-urlencoded"), format!("csrf=%ff%fe&csrf={}&authCode=%00&block=%ff", enc(MARK)).into_bytes()),
            (Some("application/x-www-form-urlencoded"), format!("csrf={}", "x".repeat(64 * 1024)).into_bytes()),
            (Some("application/json"), vec![b'{'; 20_000]),
        ];
        for who in [Who::Anonymous, Who::Admin] {
            let client = client(&app, who);
            for (method, path) in routes(id).into_iter().filter(|(m, _)| m == Method::POST) {
                for (content_type, body) in &bodies {
                    let mut request = client
                        .post(format!("{}{path}", app.addr))
                        .header("X-Requested-With", "com.example.app")
                        .body(body.clone());
                    if let Some(ct) = content_type {
                        request = request.header("Content-Type", *ct);
                    }
                    let what = format!("{who:?} {method} {path} as {content_type:?} ({} bytes)", body.len());
                    let (status, body) = answered(&what, request.send().await.unwrap()).await;
                    if who == Who::Anonymous && needs_sign_in(&path) {
                        assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
                    } else {
                        assert!(status.is_client_error(), "{what}: {status}");
                    }
                    if path == "/authcode" {
                        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: {body}"));
                        let error = json["error"].as_str().unwrap();
                        assert!(
                            ["unsupported_content_type", "invalid_request", "body_too_large", "invalid_code"].contains(&error),
                            "{what}: {error}"
                        );
                    }
                }
            }
        }
        before.still_stored(&app).await;
        still_serves(&app).await;
    }
}
