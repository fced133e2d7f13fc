//! A smart-HTTP git server: `git http-backend` behind a tiny CGI bridge
//! on a loopback address, requiring basic auth. The same server also
//! serves plain files from a directory ([`HttpServer::files`]), as a
//! static web server does (a Helm chart repository, for instance).
//!
//! The server is a std `TcpListener` with a thread per connection. It
//! answers requests without the expected `Authorization` header with 401,
//! runs `git http-backend` for the others (request body de-chunked and
//! passed on stdin, CGI headers turned into the HTTP status line), and
//! closes the connection after each response.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

/// A running smart-HTTP server serving the bare repositories under a root.
#[derive(Debug)]
pub struct HttpServer {
    /// The port it listens on.
    pub port: u16,
    /// The address it listens on.
    pub ip: String,
    /// The `Authorization` header of every request it received, in order
    /// (empty for a request without one).
    pub seen_auth: Arc<Mutex<Vec<String>>>,
}

/// What a server does with an authorised request.
#[derive(Debug, Clone)]
enum Behaviour {
    /// Runs `git http-backend` on the repositories under this root.
    Serve(PathBuf),
    /// Answers every request with a 302 to this base URL plus the path.
    Redirect(String),
    /// Answers `GET /path` with the file at `path` under this root (404
    /// when there is none).
    Files(PathBuf),
}

impl HttpServer {
    /// Serves `root` on 127.0.0.1 (a free port), requiring basic auth with
    /// `user`/`password`.
    pub fn start(root: &Path, user: &str, password: &str) -> HttpServer {
        HttpServer::start_at("127.0.0.1", root, user, password)
    }

    /// Serves `root` on the loopback address `ip`, requiring basic auth
    /// with `user`/`password`.
    pub fn start_at(ip: &str, root: &Path, user: &str, password: &str) -> HttpServer {
        let expected = basic(user, password);
        HttpServer::spawn(ip, Behaviour::Serve(root.to_owned()), Some(expected))
    }

    /// Redirects every request, without asking for credentials, to the
    /// same path under `base` (`http://host:port`).
    pub fn redirecting_at(ip: &str, base: &str) -> HttpServer {
        HttpServer::spawn(ip, Behaviour::Redirect(base.to_owned()), None)
    }

    /// Serves the files under `root` on 127.0.0.1 (a free port), as a
    /// static web server: `GET /a/b` answers the file `root/a/b`, 404
    /// when there is none. With `user`, requests must carry that user's
    /// basic-auth header (401 otherwise).
    pub fn files(root: &Path, user: Option<(&str, &str)>) -> HttpServer {
        let expected = user.map(|(user, password)| basic(user, password));
        HttpServer::spawn("127.0.0.1", Behaviour::Files(root.to_owned()), expected)
    }

    fn spawn(ip: &str, behaviour: Behaviour, expected: Option<String>) -> HttpServer {
        let listener = TcpListener::bind((ip, 0)).expect("bind a loopback port");
        let port = listener.local_addr().expect("the listening address").port();
        let seen_auth = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&seen_auth);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (behaviour, expected, seen) =
                    (behaviour.clone(), expected.clone(), Arc::clone(&seen));
                std::thread::spawn(move || {
                    let _ = serve(stream, &behaviour, expected.as_deref(), &seen);
                });
            }
        });
        HttpServer {
            port,
            ip: ip.to_owned(),
            seen_auth,
        }
    }

    /// The URL of repository `name.git`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}:{}/{name}.git", self.ip, self.port)
    }

    /// The base URL, `http://ip:port`.
    pub fn base(&self) -> String {
        format!("http://{}:{}", self.ip, self.port)
    }

    /// How many requests it received.
    pub fn requests(&self) -> usize {
        self.seen_auth.lock().expect("the request log").len()
    }

    /// Whether any request carried the basic-auth header of `user`/`password`.
    pub fn saw_credentials(&self, user: &str, password: &str) -> bool {
        let header = basic(user, password);
        self.seen_auth
            .lock()
            .expect("the request log")
            .contains(&header)
    }
}

fn serve(
    stream: TcpStream,
    behaviour: &Behaviour,
    expected_auth: Option<&str>,
    seen_auth: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end().to_owned();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // Read the body (Content-Length or chunked).
    let mut body = Vec::new();
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            if size == 0 {
                // Trailer: read up to the empty line.
                let mut rest = String::new();
                while reader.read_line(&mut rest)? > 2 {
                    rest.clear();
                }
                break;
            }
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    }
    seen_auth
        .lock()
        .expect("the request log")
        .push(header("authorization").unwrap_or_default());
    let root = match behaviour {
        Behaviour::Serve(root) => root,
        Behaviour::Files(root) => {
            if let Some(expected_auth) = expected_auth
                && header("authorization").as_deref() != Some(expected_auth)
            {
                return out.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"files\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
            return serve_file(&mut out, root, &method, &target);
        }
        Behaviour::Redirect(base) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {base}{target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return out.write_all(head.as_bytes());
        }
    };
    if let Some(expected_auth) = expected_auth
        && header("authorization").as_deref() != Some(expected_auth)
    {
        out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let answer = http_backend(root, &method, path, query, &header, body)?;
    let mut head = format!("HTTP/1.1 {}\r\n", answer.status);
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    out.write_all(head.as_bytes())?;
    out.write_all(&answer.body)?;
    out.flush()
}

/// What `git http-backend` answered one request with.
#[derive(Debug, Clone)]
pub struct CgiAnswer {
    /// The status line's code and reason (`200 OK`).
    pub status: String,
    /// The response headers (`Content-Type`, `Cache-Control`, ...).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl CgiAnswer {
    /// The numeric status code.
    pub fn code(&self) -> u16 {
        self.status
            .split_whitespace()
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(500)
    }
}

/// Runs `git http-backend` on the bare repositories under `root` for one
/// authorised request (`method`, URL `path` and `query`, request headers
/// through `header(lowercase name)`, the de-chunked `body`), as a CGI
/// server would: the smart-HTTP protocol of both [`HttpServer`] and the
/// fake GitHub (`github`).
pub fn http_backend(
    root: &Path,
    method: &str,
    path: &str,
    query: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: Vec<u8>,
) -> std::io::Result<CgiAnswer> {
    let mut child = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_CONTENT_ENCODING",
            header("content-encoding").unwrap_or_default(),
        )
        .env("GIT_PROTOCOL", header("git-protocol").unwrap_or_default())
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut output = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut output)?;
    let _ = writer.join();
    let _ = child.wait();
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| output.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return Ok(CgiAnswer {
            status: "500 Internal Server Error".to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        });
    };
    let cgi_headers = String::from_utf8_lossy(&output[..end]).to_string();
    let mut status = "200 OK".to_owned();
    let mut headers = Vec::new();
    for h in cgi_headers.lines() {
        if let Some(s) = h.strip_prefix("Status:") {
            status = s.trim().to_owned();
        } else if let Some((name, value)) = h.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    Ok(CgiAnswer {
        status,
        headers,
        body: output[end + sep..].to_vec(),
    })
}

/// Answers a GET of `target` with the file under `root` it names.
fn serve_file(out: &mut TcpStream, root: &Path, method: &str, target: &str) -> std::io::Result<()> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let safe = path
        .split('/')
        .all(|part| part != ".." && !part.contains('\\'));
    let file = root.join(path.trim_start_matches('/'));
    let body = if method == "GET" && safe && file.is_file() {
        std::fs::read(&file).ok()
    } else {
        None
    };
    match body {
        Some(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            out.write_all(head.as_bytes())?;
            out.write_all(&body)?;
        }
        None => out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?,
    }
    out.flush()
}

/// `Basic BASE64(user:password)`.
pub(crate) fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}
