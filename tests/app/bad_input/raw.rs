//! Raw bytes no client library sends, over TCP: broken request lines, chunked bodies cut
//! short, half-closed connections.

use super::*;

on_both_backends! {
    with app_on;
    async fn raw_bytes_no_client_library_sends_get_answers(app) {
        let id = signed_in(&app).await;
        let session = cookie_value(&app, "oa_session");
        let before = Untouched::now(&app).await;
        let host = app.addr.trim_start_matches("http://").to_string();
        let cookie = format!("Cookie: oa_session={session}\r\n");
        let mut failures = Vec::new();
        // Raw bytes in the request target, on every route, signed in and not; and a 100 KB
        // query, which no client library sends (the `http` crate stops at 64 KiB).
        for (method, path) in routes(id) {
            for cookie in ["", cookie.as_str()] {
                for target in [
                    format!("{path}?q=\u{e9}\u{1f600}&page=\u{ff}").into_bytes(),
                    [path.as_bytes(), b"?q=\xff\xfe\xc3\x28&error=\xff<oa-x>&code=\x80&state=\xfe"].concat(),
                    [path.as_bytes(), b"/\xff\xfe"].concat(),
                    format!("{path}?{}", query_of_size(100 * 1024)).into_bytes(),
                ] {
                    let request = [
                        format!("{method} ").as_bytes(),
                        &target,
                        format!(" HTTP/1.1\r\nHost: {host}\r\n{cookie}Content-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
                    ]
                    .concat();
                    if let Err(e) = raw_answer(&host, &request).await {
                        failures.push(format!("{method} {}: {e}", head(&target, 80)));
                    }
                }
            }
        }
        // Heads no client should send.
        let heads: Vec<Vec<u8>> = vec![
            b"GARBAGE\r\n\r\n".to_vec(),
            b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            b"GET / HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad\x7f: y\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            [b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ".as_slice(), &vec![b'a'; 200 * 1024], b"\r\n\r\n"].concat(),
        ];
        for request in &heads {
            match raw_answer(&host, request).await {
                Ok(status) if (400..500).contains(&status) => {}
                Ok(status) => failures.push(format!("{:?}: {status}", head(request, 60))),
                Err(e) => failures.push(format!("{:?}: {e}", head(request, 60))),
            }
        }
        // Cookies that are not even text: no session, the landing page.
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: oa_session=\xff\xfe; oa_pending=\x80\r\nConnection: close\r\n\r\n";
        assert_eq!(raw_answer(&host, request).await, Ok(200));
        // Malformed chunked bodies on every POST route, signed in and not.
        let bodies: [(&str, &[u8]); 7] = [
            ("a chunk size that is not hex", b"zz\r\ncsrf=x\r\n0\r\n\r\n"),
            ("a chunk size that overflows", b"fffffffffffffffffffffffff\r\ncsrf=x\r\n0\r\n\r\n"),
            ("a chunk without its CRLF", b"6\r\ncsrf=xXXXX\r\n0\r\n\r\n"),
            ("a body cut short", b"100\r\ncsrf=x"),
            ("a control character in an extension", b"6;\x01\r\ncsrf=x\r\n0\r\n\r\n"),
            ("no last chunk", b"6\r\ncsrf=x\r\n"),
            ("a negative size", b"-6\r\ncsrf=x\r\n0\r\n\r\n"),
        ];
        for (method, path) in routes(id).into_iter().filter(|(m, _)| m == Method::POST) {
            for cookie in ["", cookie.as_str()] {
                for (what, body) in bodies {
                    for framing in [
                        "Transfer-Encoding: chunked\r\n",
                        "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n",
                        "Transfer-Encoding: gzip, chunked\r\n",
                    ] {
                        let request = [
                            format!(
                                "POST {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}X-Requested-With: x\r\n\
                                 Content-Type: application/x-www-form-urlencoded\r\n{framing}Connection: close\r\n\r\n"
                            )
                            .as_bytes(),
                            body,
                        ]
                        .concat();
                        let what = format!(
                            "{method} {path} {} with {what} ({})",
                            if cookie.is_empty() { "signed out" } else { "signed in" },
                            framing.trim().replace("\r\n", ", ")
                        );
                        // Chunked bodies are refused before they are read (411); a length
                        // beside chunks, or another coding, actix-http itself refuses (400).
                        match raw_answer(&host, &request).await {
                            Ok(411) => {}
                            Ok(400) if framing != "Transfer-Encoding: chunked\r\n" => {}
                            Ok(status) => failures.push(format!("{what}: {status}")),
                            Err(e) => failures.push(format!("{what}: {e}")),
                        }
                    }
                }
                // A well-formed chunked body is refused the same way.
                let request = format!(
                    "POST {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}X-Requested-With: x\r\n\
                     Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
                     Connection: close\r\n\r\n6\r\ncsrf=x\r\n0\r\n\r\n"
                );
                match raw_answer(&host, request.as_bytes()).await {
                    Ok(411) => {}
                    other => failures.push(format!("{method} {path} chunked: {other:?}")),
                }
                // A body shorter than its Content-Length, and one far larger than any form.
                for (what, length, body) in [
                    ("a body cut short", 100, b"csrf=x".to_vec()),
                    ("a 2 MB body", 2_000_000, [b"csrf=x&a=".as_slice(), &vec![b'a'; 2_000_000 - 9]].concat()),
                ] {
                    let request = [
                        format!(
                            "POST {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}X-Requested-With: x\r\n\
                             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\
                             Connection: close\r\n\r\n"
                        )
                        .as_bytes(),
                        &body,
                    ]
                    .concat();
                    let what = format!(
                        "{method} {path} {} with {what}",
                        if cookie.is_empty() { "signed out" } else { "signed in" },
                    );
                    match raw_answer(&host, &request).await {
                        Ok(303) if cookie.is_empty() && needs_sign_in(&path) => {}
                        Ok(status) if (400..500).contains(&status) => {}
                        Ok(status) => failures.push(format!("{what}: {status}")),
                        Err(e) => failures.push(format!("{what}: {e}")),
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
        before.still(&app).await;
        still_serves(&app).await;
    }
}

/// Sends `request` on a connection of its own, says it has nothing more to send (a half-close:
/// a body cut short ends there), and reads until the server closes. The answer must be an HTTP
/// response below 500 that does not repeat the markup; returns its status, or what is wrong.
async fn raw_answer(host: &str, request: &[u8]) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    // The server may refuse before it has read everything: what it answers counts.
    let _ = stream.write_all(request).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    // A guard against a server that never answers, not a timing assertion.
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| "no answer and no close in 60 s".to_string())?;
    if let (Err(e), true) = (read, answer.is_empty()) {
        return Err(format!("dropped without an answer: {e}"));
    }
    if answer.len() < 12 || !answer.starts_with(b"HTTP/1.1 ") {
        return Err(format!(
            "not an HTTP answer: {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(100)])
        ));
    }
    let status: u16 = std::str::from_utf8(&answer[9..12])
        .unwrap()
        .parse()
        .unwrap();
    if status >= 500 {
        return Err(format!("status {status}"));
    }
    if String::from_utf8_lossy(&answer).contains(MARK_RAW) {
        return Err("repeats the markup".into());
    }
    Ok(status)
}

/// At most `n` bytes of `b`, for a message.
fn head(b: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned()
}
