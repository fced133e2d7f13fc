//! moto's server on a free loopback port, a real implementation of the
//! ECR and STS APIs, with its request recorder to count the calls that
//! reached it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{free_port, which};

/// A `moto_server` process, killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// Holds the recorder's file.
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `moto_server` is: `KARGO_MOTO_SERVER`, `PATH`, or the virtual
/// environment `scripts/install-moto.sh` makes.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KARGO_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    which(&["moto_server"]).or_else(|| {
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
        let venv = data.join("kargo-rs/moto-venv/bin/moto_server");
        venv.is_file().then_some(venv)
    })
}

impl Moto {
    /// Starts moto's server on a free loopback port and waits until it
    /// answers. Panics, saying how to install it, when it is missing.
    pub fn start() -> Moto {
        let binary = binary().unwrap_or_else(|| {
            panic!(
                "moto_server was not found: the ECR credential tests need moto's server. \
                 Install it with scripts/install-moto.sh (scripts/test.sh runs every \
                 scripts/install-*.sh), or name it in KARGO_MOTO_SERVER."
            )
        });
        let port = free_port();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Each server records into its own file (the default is
            // `moto_recording` in the working directory).
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            _dir: dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = format!("127.0.0.1:{port}");
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    async fn post(&self, path: &str) {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("moto's recorder answers");
    }

    /// Starts recording requests (moto's recorder).
    pub async fn start_recording(&self) {
        self.post("/moto-api/recorder/reset-recording").await;
        self.post("/moto-api/recorder/start-recording").await;
    }

    /// The `X-Amz-Target` (or form `Action`) and the `Authorization`
    /// header of every request recorded so far.
    pub async fn recorded(&self) -> Vec<(String, String)> {
        let text = reqwest::get(format!("{}/moto-api/recorder/download-recording", self.url))
            .await
            .expect("moto's recorder answers")
            .text()
            .await
            .expect("a recording");
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|r| {
                let authorization = r["headers"]["Authorization"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let target = r["headers"]["X-Amz-Target"].as_str().map(str::to_owned);
                let action = target.unwrap_or_else(|| {
                    let body = r["body"].as_str().unwrap_or_default();
                    let body = if r["body_encoded"].as_bool() == Some(true) {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD
                            .decode(body)
                            .ok()
                            .and_then(|b| String::from_utf8(b).ok())
                            .unwrap_or_default()
                    } else {
                        body.to_owned()
                    };
                    body.split('&')
                        .find_map(|p| p.strip_prefix("Action=").map(str::to_owned))
                        .unwrap_or_default()
                });
                (action, authorization)
            })
            .collect()
    }
}
