//! HTTP servers answering scripted replies: wiremock's [`MockServer`] with
//! the replies mounted in order ([`script`], [`scripted`],
//! [`scripted_blocking`] for tests without a runtime), and a raw server for
//! the one thing wiremock cannot send, a body that ends when the connection
//! closes ([`until_close`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Mounts `replies` on `server` to answer its requests in order, whatever
/// they ask; once they are used up, the last one repeats.
pub async fn script(server: &MockServer, replies: impl IntoIterator<Item = ResponseTemplate>) {
    let replies: Vec<ResponseTemplate> = replies.into_iter().collect();
    let last = replies
        .len()
        .checked_sub(1)
        .expect("a script needs a reply");
    for (i, reply) in replies.into_iter().enumerate() {
        let mock = Mock::given(any()).respond_with(reply);
        // wiremock picks the first mounted mock with answers left.
        let mock = if i < last {
            mock.up_to_n_times(1)
        } else {
            mock
        };
        mock.mount(server).await;
    }
}

/// A started server answering `replies` as [`script`] says.
pub async fn scripted(replies: impl IntoIterator<Item = ResponseTemplate>) -> MockServer {
    let server = MockServer::start().await;
    script(&server, replies).await;
    server
}

/// [`scripted`] for a test without a runtime: the server runs on a thread
/// of its own, and stops when the returned value is dropped.
pub fn scripted_blocking(replies: impl IntoIterator<Item = ResponseTemplate>) -> MockServer {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(scripted(replies))
}

/// The path and query of `request`, as sent (`/search?q=a+b`).
pub fn target(request: &Request) -> String {
    match request.url.query() {
        Some(query) => format!("{}?{query}", request.url.path()),
        None => request.url.path().to_owned(),
    }
}

/// Every value of header `name` in `request`, in order.
pub fn header_values<'r>(request: &'r Request, name: &str) -> Vec<&'r str> {
    request
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("a text header"))
        .collect()
}

/// A server answering every request `200` with `body` and no
/// `Content-Length`: the body ends when it closes the connection, so a
/// client finds its size only by reading it. Returns `http://127.0.0.1:PORT`;
/// the server lives as long as the test process.
pub fn until_close(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // The request: its head, and any body it announces.
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let _ = reader.read_exact(&mut vec![0; length]);
            // The client may have given up: write errors are expected.
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(&body);
        }
    });
    url
}
