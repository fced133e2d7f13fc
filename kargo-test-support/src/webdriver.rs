//! A small WebDriver client for the web UI's tests: Debian's `chromedriver`
//! started on a free loopback port, driving a headless Chromium.
//!
//! Only what the tests use: navigating, finding and clicking elements,
//! typing, running scripts, waiting for a script's condition, and
//! screenshots. Failures panic with what was asked (this is test support).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::process::{free_port, which};

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long [`Browser::wait_for`] waits by default.
pub const WAIT: Duration = Duration::from_secs(20);

/// Where the browser and its driver are, or a message saying how to
/// install them.
fn programs() -> (PathBuf, PathBuf) {
    let driver = std::env::var_os("KARGO_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| which(&["chromedriver"]));
    let browser = std::env::var_os("KARGO_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| which(&["chromium", "chromium-browser", "google-chrome"]));
    match (driver, browser) {
        (Some(d), Some(b)) => (d, b),
        _ => panic!(
            "the UI tests need Chromium and chromedriver: run `source scripts/setup.sh` \
             (scripts/install-chromium.sh installs Debian's chromium and chromium-driver), \
             or set KARGO_CHROMIUM and KARGO_CHROMEDRIVER"
        ),
    }
}

/// A headless Chromium driven over WebDriver; the driver stops when this
/// is dropped.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: tokio::process::Child,
    base: String,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element {
    id: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width` ×
    /// `height` window.
    pub async fn start(width: u32, height: u32) -> Browser {
        let (driver_path, browser_path) = programs();
        let port = free_port();
        let driver = tokio::process::Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        let started = Instant::now();
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(response) = ready
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "chromedriver did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser_path,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-extensions", "--no-first-run", "--hide-scrollbars",
                    "--force-device-scale-factor=1", "--lang=en-US",
                    format!("--window-size={width},{height}"),
                ],
            },
        }}});
        let response = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers");
        let body: Value = response.json().await.expect("a JSON answer");
        let session = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {body}"))
            .to_owned();
        Browser {
            http,
            session,
            driver,
            base,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .await
            .unwrap_or_else(|(status, message)| {
                panic!("WebDriver {path} answered {status}: {message}")
            })
    }

    /// A command whose refusal is returned: the status and WebDriver's
    /// error code (`stale element reference`, ...) with its message.
    async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (reqwest::StatusCode, String)> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err((
                status,
                format!("{}: {}", body["value"]["error"], body["value"]["message"]),
            ));
        }
        Ok(body["value"].clone())
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and
    /// returns its value.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Waits until `script` (a function body) returns something truthy,
    /// and returns it; panics after `timeout` naming `what`, with the
    /// page's text.
    pub async fn wait_for_within(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let value = self.eval(script, vec![]).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if started.elapsed() > timeout {
                let text = self.eval("return document.body.innerText", vec![]).await;
                panic!(
                    "waited {timeout:?} for {what}; the page says:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// [`Browser::wait_for_within`] the default [`WAIT`].
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        self.wait_for_within(what, script, WAIT).await
    }

    /// The first element matching `css` whose text contains `text` (any
    /// text when empty), waiting for it to appear.
    pub async fn find(&self, css: &str, text: &str) -> Element {
        let script = format!(
            "return [...document.querySelectorAll({css})].find(e => e.textContent.includes({text})) || null",
            css = json!(css),
            text = json!(text),
        );
        let value = self
            .wait_for(&format!("an element {css} with text {text:?}"), &script)
            .await;
        let id = value[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("not an element: {value}"))
            .to_owned();
        Element { id }
    }

    /// Clicks `element` as a person would.
    pub async fn click(&self, element: &Element) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.id),
            Some(json!({})),
        )
        .await;
    }

    /// Finds (see [`Browser::find`]) and clicks. The pages draw
    /// themselves again on every change they are told of, so the element
    /// found may be replaced before the click lands: then the new one is
    /// found and clicked, as a person would click what is on the screen.
    pub async fn click_on(&self, css: &str, text: &str) {
        for _ in 0..5 {
            let element = self.find(css, text).await;
            let path = format!("/element/{}/click", element.id);
            match self
                .try_command(reqwest::Method::POST, &path, Some(json!({})))
                .await
            {
                Ok(_) => return,
                Err((_, message)) if message.contains("stale element reference") => continue,
                Err((status, message)) => panic!("WebDriver {path} answered {status}: {message}"),
            }
        }
        panic!("{css} with text {text:?} was replaced before every click");
    }

    /// Types `text` into `element`.
    pub async fn type_into(&self, element: &Element, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.id),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Sends `key` (a WebDriver key code such as `"\u{E007}"`, Enter) to the
    /// focused element.
    pub async fn press(&self, key: &str) {
        let actions = json!({"actions": [{
            "type": "key", "id": "keyboard",
            "actions": [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}],
        }]});
        self.command(reqwest::Method::POST, "/actions", Some(actions))
            .await;
    }

    /// Makes the page render as with the system's `scheme` (`light` or
    /// `dark`), through the DevTools protocol.
    pub async fn color_scheme(&self, scheme: &str) {
        self.command(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{"name": "prefers-color-scheme", "value": scheme}],
            }})),
        )
        .await;
    }

    /// Saves a PNG screenshot of the window at `path` (directories
    /// created).
    pub async fn screenshot(&self, path: &Path) {
        let value = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        save_png(&value, path);
    }

    /// Saves a PNG screenshot of the first element matching `css` at
    /// `path`.
    pub async fn element_screenshot(&self, css: &str, path: &Path) {
        let element = self.find(css, "").await;
        let value = self
            .command(
                reqwest::Method::GET,
                &format!("/element/{}/screenshot", element.id),
                None,
            )
            .await;
        save_png(&value, path);
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill().await;
    }
}

/// Writes WebDriver's base64 screenshot `value` to `path` (directories
/// created).
fn save_png(value: &Value, path: &Path) {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str().expect("a base64 screenshot"))
        .expect("valid base64");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("the screenshot directory");
    }
    std::fs::write(path, bytes).expect("the screenshot is written");
}

/// A script returning the text of the node `key` (`Stage/prod`) of the
/// UI's graph, empty while the node is absent.
pub fn node_text(key: &str) -> String {
    format!(
        "const n = document.querySelector('[data-test=\"node-{key}\"]'); return n ? n.innerText : ''"
    )
}

impl Browser {
    /// Waits until the UI's graph has a node for each of `keys`
    /// (`Stage/dev`, `Warehouse/app`); `what` names them in the failure.
    pub async fn wait_for_nodes(&self, what: &str, keys: &[&str]) {
        let script = format!(
            "return {}.every(k => document.querySelector(`[data-test=\"node-${{k}}\"]`))",
            json!(keys)
        );
        self.wait_for(what, &script).await;
    }
}

/// Where a browser test's screenshots go: `dir/NAME.png` always, and the
/// main ones also `docs/PREFIX-NAME.png` when `KARGO_UI_DOCS_SCREENSHOTS`
/// is set (to refresh the repository's `docs/`).
#[derive(Debug)]
pub struct Screenshots {
    dir: PathBuf,
    docs: PathBuf,
    prefix: String,
}

impl Screenshots {
    /// Screenshots in `dir` (emptied first), the main ones copied to
    /// `docs` as `PREFIX-NAME.png`.
    pub fn new(dir: impl Into<PathBuf>, docs: impl Into<PathBuf>, prefix: &str) -> Screenshots {
        let dir = dir.into();
        let _ = std::fs::remove_dir_all(&dir);
        Screenshots {
            dir,
            docs: docs.into(),
            prefix: prefix.to_owned(),
        }
    }

    /// Saves the window as `NAME.png`; with `docs`, it is a main one.
    pub async fn save(&self, browser: &Browser, name: &str, docs: bool) {
        let path = self.dir.join(format!("{name}.png"));
        browser.screenshot(&path).await;
        self.publish(&path, name, docs);
    }

    /// Saves the first element matching `css` as `NAME.png`; with `docs`,
    /// it is a main one.
    pub async fn save_element(&self, browser: &Browser, css: &str, name: &str, docs: bool) {
        let path = self.dir.join(format!("{name}.png"));
        browser.element_screenshot(css, &path).await;
        self.publish(&path, name, docs);
    }

    fn publish(&self, path: &Path, name: &str, docs: bool) {
        if docs && std::env::var_os("KARGO_UI_DOCS_SCREENSHOTS").is_some() {
            let target = self.docs.join(format!("{}-{name}.png", self.prefix));
            std::fs::create_dir_all(&self.docs).expect("the docs directory");
            std::fs::copy(path, target).expect("a copy in docs/");
        }
    }
}
