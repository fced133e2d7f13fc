//! A fake GitHub Enterprise server on one loopback port, backed by real
//! bare repositories: the smart-HTTP git protocol (`git http-backend`, the
//! same CGI bridge as [`HttpServer`](crate::git_server::HttpServer)) at
//! `/OWNER/REPO.git`, and GitHub's REST endpoints that `github-push` uses
//! at `/api/v3` (where GitHub Enterprise Server has them), answering in
//! GitHub's documented shapes:
//!
//! - `GET /repos/{o}/{r}/git/ref/{ref}` ("Get a reference"),
//! - `POST /repos/{o}/{r}/git/refs`, `PATCH` and `DELETE
//!   /repos/{o}/{r}/git/refs/{ref}` (create, update, delete a reference;
//!   422 for a reference that exists, is missing, or an update that is not
//!   a fast-forward without `force`),
//! - `POST /repos/{o}/{r}/git/commits` ("Create a commit": made with `git
//!   commit-tree`, so the repository holds exactly what GitHub would;
//!   without `author` the commit is authored by the app and counted as
//!   verified, as GitHub signs it),
//! - `GET /repos/{o}/{r}/compare/{base}...{head}` ("Compare two commits").
//!
//! GitHub cannot run here, so this is the one stand-in: every answer is
//! computed from the real repository the pushes go to, and the tests
//! assert on that repository.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::git::{IDENTITY, command};
use crate::git_server::http_backend;

/// Who a commit created without `author` is by: the GitHub App the token
/// belongs to.
pub const APP: (&str, &str) = (
    "kargo-app[bot]",
    "123+kargo-app[bot]@users.noreply.github.com",
);

/// The committer GitHub writes on the commits it signs.
pub const WEB_FLOW: (&str, &str) = ("GitHub", "noreply@github.com");

type Hook = Box<dyn FnOnce(&Path) + Send>;

#[derive(Default)]
struct State {
    /// Commits GitHub created and signed (created without an author).
    verified: HashSet<String>,
    /// Run, in order, before the next reference update (a concurrent
    /// push landing first).
    before_ref_update: Vec<Hook>,
}

/// A running fake GitHub (see the module docs).
pub struct FakeGitHub {
    server: MockServer,
    root: PathBuf,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGitHub")
            .field("uri", &self.server.uri())
            .field("root", &self.root)
            .finish()
    }
}

impl FakeGitHub {
    /// Serves the bare repositories under `root` (`OWNER/REPO.git`),
    /// accepting `token` as the API's bearer token and as git's password.
    pub async fn start(root: &Path, token: &str) -> FakeGitHub {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(path_regex(r"^/[^/]+/[^/]+\.git/"))
            .respond_with(GitSmartHttp {
                root: root.to_owned(),
                token: token.to_owned(),
            })
            .mount(&server)
            .await;
        Mock::given(path_regex(r"^/api/v3/repos/[^/]+/[^/]+/"))
            .respond_with(RestApi {
                root: root.to_owned(),
                token: token.to_owned(),
                base: server.uri(),
                state: Arc::clone(&state),
            })
            .mount(&server)
            .await;
        FakeGitHub {
            server,
            root: root.to_owned(),
            state,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The clone URL of `OWNER/REPO`.
    pub fn repo_url(&self, full_name: &str) -> String {
        format!("{}/{full_name}.git", self.server.uri())
    }

    /// The bare repository of `OWNER/REPO`.
    pub fn bare(&self, full_name: &str) -> PathBuf {
        self.root.join(format!("{full_name}.git"))
    }

    /// Creates `OWNER/REPO` with `main` holding `files` in one commit.
    pub fn create_repo(&self, full_name: &str, files: &[(&str, &str)]) -> PathBuf {
        crate::git::bare_repo(&self.root, full_name, files)
    }

    /// The wiremock server, to mount answers that take precedence over the
    /// fake's (`with_priority(1)`), such as an error.
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Makes the next request `verb` to a path under the repository's
    /// API that matches `path_regex` (`git/commits$`) answer `status` with
    /// GitHub's error body carrying `message`; later ones are served as
    /// usual.
    pub async fn fail_once(&self, verb: &str, path_regex_tail: &str, status: u16, message: &str) {
        Mock::given(method(verb))
            .and(path_regex(format!(
                r"^/api/v3/repos/[^/]+/[^/]+/{path_regex_tail}"
            )))
            .respond_with(error(status, message))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Runs `hook` with the bare repository's path just before the next
    /// reference update is applied: another push landing first.
    pub fn before_next_ref_update(&self, hook: impl FnOnce(&Path) + Send + 'static) {
        self.state
            .lock()
            .expect("the fake's state")
            .before_ref_update
            .push(Box::new(hook));
    }

    /// Whether GitHub created and signed commit `sha` (it was created
    /// without an author).
    pub fn is_verified(&self, sha: &str) -> bool {
        self.state
            .lock()
            .expect("the fake's state")
            .verified
            .contains(sha)
    }

    /// The API requests received, in order: (method, path, JSON body or
    /// `Null`).
    pub async fn api_requests(&self) -> Vec<(String, String, Value)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().starts_with("/api/"))
            .map(|r| {
                (
                    r.method.to_string(),
                    r.url.path().to_owned(),
                    serde_json::from_slice(&r.body).unwrap_or(Value::Null),
                )
            })
            .collect()
    }
}

/// GitHub's error body.
fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest/git",
        "status": status.to_string(),
    }))
}

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The smart-HTTP side: basic auth whose password is the token.
struct GitSmartHttp {
    root: PathBuf,
    token: String,
}

impl Respond for GitSmartHttp {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let password = header(request, "authorization")
            .and_then(|h| h.strip_prefix("Basic ").map(str::to_owned))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .and_then(|up| up.split_once(':').map(|(_, p)| p.to_owned()));
        if password.as_deref() != Some(self.token.as_str()) {
            return ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", "Basic realm=\"GitHub\"");
        }
        let lookup = |name: &str| header(request, name);
        let answer = match http_backend(
            &self.root,
            request.method.as_str(),
            request.url.path(),
            request.url.query().unwrap_or_default(),
            &lookup,
            request.body.clone(),
        ) {
            Ok(answer) => answer,
            Err(e) => return ResponseTemplate::new(500).set_body_string(e.to_string()),
        };
        let mut template = ResponseTemplate::new(answer.code());
        for (name, value) in &answer.headers {
            template = template.insert_header(name.as_str(), value.as_str());
        }
        template.set_body_bytes(answer.body)
    }
}

/// The REST side.
struct RestApi {
    root: PathBuf,
    token: String,
    base: String,
    state: Arc<Mutex<State>>,
}

/// Runs git in the bare repository; `Err` holds its stderr.
fn git(bare: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let mut cmd = command(bare, IDENTITY);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The commit `rev` names, if it names one.
fn resolve(bare: &Path, rev: &str) -> Option<String> {
    git(
        bare,
        &["rev-parse", "--verify", "-q", &format!("{rev}^{{commit}}")],
        &[],
    )
    .ok()
}

fn object_type(bare: &Path, sha: &str) -> Option<String> {
    git(bare, &["cat-file", "-t", sha], &[]).ok()
}

/// GitHub writes UTC dates with `Z`.
fn github_date(date: &str) -> String {
    date.strip_suffix("+00:00")
        .map_or_else(|| date.to_owned(), |d| format!("{d}Z"))
}

impl RestApi {
    fn api(&self, full_name: &str) -> String {
        format!("{}/api/v3/repos/{full_name}", self.base)
    }

    /// A commit as GitHub's git-data API shows it ("Get a commit object").
    fn git_commit(&self, full_name: &str, bare: &Path, sha: &str) -> Option<Value> {
        let format = "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B";
        let shown = git(bare, &["show", "-s", format, sha], &[]).ok()?;
        let f: Vec<&str> = shown.splitn(10, '\0').collect();
        let [sha, tree, parents, an, ae, ad, cn, ce, cd, message] = f.as_slice() else {
            return None;
        };
        let api = self.api(full_name);
        let parents: Vec<Value> = parents
            .split_whitespace()
            .map(|p| {
                json!({
                    "sha": p,
                    "url": format!("{api}/git/commits/{p}"),
                    "html_url": format!("{}/{full_name}/commit/{p}", self.base),
                })
            })
            .collect();
        let verified = self
            .state
            .lock()
            .expect("the fake's state")
            .verified
            .contains(*sha);
        Some(json!({
            "sha": sha,
            "node_id": format!("C_{}", &sha[..12]),
            "url": format!("{api}/git/commits/{sha}"),
            "html_url": format!("{}/{full_name}/commit/{sha}", self.base),
            "author": {"name": an, "email": ae, "date": github_date(ad)},
            "committer": {"name": cn, "email": ce, "date": github_date(cd)},
            "tree": {"sha": tree, "url": format!("{api}/git/trees/{tree}")},
            "message": message.trim_end(),
            "parents": parents,
            "verification": {
                "verified": verified,
                "reason": if verified { "valid" } else { "unsigned" },
                "signature": null,
                "payload": null,
                "verified_at": null,
            },
        }))
    }

    /// A commit as the compare API lists it.
    fn repository_commit(&self, full_name: &str, bare: &Path, sha: &str) -> Option<Value> {
        let commit = self.git_commit(full_name, bare, sha)?;
        let api = self.api(full_name);
        Some(json!({
            "sha": sha,
            "node_id": commit["node_id"],
            "url": format!("{api}/commits/{sha}"),
            "html_url": commit["html_url"],
            "commit": {
                "author": commit["author"],
                "committer": commit["committer"],
                "message": commit["message"],
                "tree": commit["tree"],
                "url": commit["url"],
                "comment_count": 0,
                "verification": commit["verification"],
            },
            "author": null,
            "committer": null,
            "parents": commit["parents"],
        }))
    }

    fn reference(&self, full_name: &str, name: &str, sha: &str) -> Value {
        let api = self.api(full_name);
        json!({
            "ref": name,
            "node_id": format!("REF_{}", name.replace('/', "_")),
            "url": format!("{api}/git/{name}"),
            "object": {"type": "commit", "sha": sha, "url": format!("{api}/git/commits/{sha}")},
        })
    }

    fn get_ref(&self, full_name: &str, bare: &Path, name: &str) -> ResponseTemplate {
        let name = format!("refs/{name}");
        match git(bare, &["rev-parse", "--verify", "-q", &name], &[]) {
            Ok(sha) => {
                ResponseTemplate::new(200).set_body_json(self.reference(full_name, &name, &sha))
            }
            Err(_) => error(404, "Not Found"),
        }
    }

    fn create_ref(&self, full_name: &str, bare: &Path, body: &Value) -> ResponseTemplate {
        let (Some(name), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
            return error(
                422,
                "Invalid request.\n\n\"ref\", \"sha\" weren't supplied.",
            );
        };
        if !name.starts_with("refs/") || name.matches('/').count() < 2 {
            return error(422, "Reference name is invalid");
        }
        if object_type(bare, sha).as_deref() != Some("commit") {
            return error(422, "Object does not exist");
        }
        if git(bare, &["rev-parse", "--verify", "-q", name], &[]).is_ok() {
            return error(422, "Reference already exists");
        }
        let none = "0".repeat(40);
        match git(bare, &["update-ref", name, sha, &none], &[]) {
            Ok(_) => ResponseTemplate::new(201).set_body_json(self.reference(full_name, name, sha)),
            Err(e) => error(422, &e),
        }
    }

    fn update_ref(
        &self,
        full_name: &str,
        bare: &Path,
        name: &str,
        body: &Value,
    ) -> ResponseTemplate {
        let Some(sha) = body["sha"].as_str() else {
            return error(422, "Invalid request.\n\n\"sha\" wasn't supplied.");
        };
        let force = body["force"].as_bool().unwrap_or(false);
        let name = format!("refs/{name}");
        let hooks = std::mem::take(
            &mut self
                .state
                .lock()
                .expect("the fake's state")
                .before_ref_update,
        );
        for hook in hooks {
            hook(bare);
        }
        let Ok(current) = git(bare, &["rev-parse", "--verify", "-q", &name], &[]) else {
            return error(422, "Reference does not exist");
        };
        if object_type(bare, sha).as_deref() != Some("commit") {
            return error(422, "Object does not exist");
        }
        let fast_forward = git(bare, &["merge-base", "--is-ancestor", &current, sha], &[]).is_ok();
        if !force && !fast_forward {
            return error(422, "Update is not a fast forward");
        }
        match git(bare, &["update-ref", &name, sha, &current], &[]) {
            Ok(_) => {
                ResponseTemplate::new(200).set_body_json(self.reference(full_name, &name, sha))
            }
            Err(e) => error(422, &e),
        }
    }

    fn delete_ref(&self, bare: &Path, name: &str) -> ResponseTemplate {
        let name = format!("refs/{name}");
        if git(bare, &["rev-parse", "--verify", "-q", &name], &[]).is_err() {
            return error(422, "Reference does not exist");
        }
        match git(bare, &["update-ref", "-d", &name], &[]) {
            Ok(_) => ResponseTemplate::new(204),
            Err(e) => error(422, &e),
        }
    }

    fn create_commit(&self, full_name: &str, bare: &Path, body: &Value) -> ResponseTemplate {
        let (Some(message), Some(tree)) = (body["message"].as_str(), body["tree"].as_str()) else {
            return error(
                422,
                "Invalid request.\n\n\"message\", \"tree\" weren't supplied.",
            );
        };
        if object_type(bare, tree).as_deref() != Some("tree") {
            return error(422, "Tree SHA does not exist");
        }
        let parents: Vec<&str> = body["parents"]
            .as_array()
            .map(|ps| ps.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if parents
            .iter()
            .any(|p| object_type(bare, p).as_deref() != Some("commit"))
        {
            return error(422, "Parent SHA does not exist or is not a commit object");
        }
        let person = |v: &Value| -> Option<(String, String, Option<String>)> {
            Some((
                v.get("name")?.as_str()?.to_owned(),
                v.get("email")?.as_str()?.to_owned(),
                v.get("date").and_then(Value::as_str).map(str::to_owned),
            ))
        };
        let signed = body.get("author").is_none_or(Value::is_null);
        let (author, committer) = if signed {
            let app = (APP.0.to_owned(), APP.1.to_owned(), None);
            let web = (WEB_FLOW.0.to_owned(), WEB_FLOW.1.to_owned(), None);
            (app, web)
        } else {
            let Some(author) = person(&body["author"]) else {
                return error(422, "Invalid request.\n\nauthor needs a name and an email.");
            };
            let committer = match body.get("committer").filter(|c| !c.is_null()) {
                None => author.clone(),
                Some(c) => match person(c) {
                    Some(c) => c,
                    None => {
                        return error(
                            422,
                            "Invalid request.\n\ncommitter needs a name and an email.",
                        );
                    }
                },
            };
            (author, committer)
        };
        let mut env = vec![
            ("GIT_AUTHOR_NAME", author.0.as_str()),
            ("GIT_AUTHOR_EMAIL", author.1.as_str()),
            ("GIT_COMMITTER_NAME", committer.0.as_str()),
            ("GIT_COMMITTER_EMAIL", committer.1.as_str()),
        ];
        if let Some(date) = &author.2 {
            env.push(("GIT_AUTHOR_DATE", date));
        }
        if let Some(date) = &committer.2 {
            env.push(("GIT_COMMITTER_DATE", date));
        }
        let mut args = vec!["commit-tree", tree];
        for parent in &parents {
            args.extend(["-p", parent]);
        }
        args.extend(["-m", message]);
        let sha = match git(bare, &args, &env) {
            Ok(sha) => sha,
            Err(e) => return error(422, &e),
        };
        if signed {
            self.state
                .lock()
                .expect("the fake's state")
                .verified
                .insert(sha.clone());
        }
        match self.git_commit(full_name, bare, &sha) {
            Some(commit) => ResponseTemplate::new(201).set_body_json(commit),
            None => error(500, "cannot read the commit just created"),
        }
    }

    fn compare(
        &self,
        full_name: &str,
        bare: &Path,
        basehead: &str,
        request: &Request,
    ) -> ResponseTemplate {
        let Some((base, head)) = basehead.split_once("...") else {
            return error(404, "Not Found");
        };
        let (Some(base), Some(head)) = (resolve(bare, base), resolve(bare, head)) else {
            return error(404, "Not Found");
        };
        let Ok(merge_base) = git(bare, &["merge-base", &base, &head], &[]) else {
            return error(
                404,
                &format!("No common ancestor between {base} and {head}."),
            );
        };
        let count = |range: String| -> usize {
            git(bare, &["rev-list", "--count", &range], &[])
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let ahead = count(format!("{base}..{head}"));
        let behind = count(format!("{head}..{base}"));
        let status = match (ahead, behind) {
            (0, 0) => "identical",
            (_, 0) => "ahead",
            (0, _) => "behind",
            _ => "diverged",
        };
        // GitHub pages the commits (oldest first): `per_page` (250 when
        // not asked) from `page` (1-based); the other fields are the same
        // on every page.
        let query = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let per_page = query("per_page").unwrap_or(250).max(1);
        let page = query("page").unwrap_or(1).max(1);
        let listed = git(
            bare,
            &[
                "rev-list",
                "--reverse",
                "--topo-order",
                &format!("{base}..{head}"),
            ],
            &[],
        )
        .unwrap_or_default();
        let commits: Vec<Value> = listed
            .lines()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .filter_map(|sha| self.repository_commit(full_name, bare, sha))
            .collect();
        let html = format!("{}/{full_name}/compare/{base}...{head}", self.base);
        ResponseTemplate::new(200).set_body_json(json!({
            "url": format!("{}/compare/{base}...{head}", self.api(full_name)),
            "html_url": html,
            "permalink_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "base_commit": self.repository_commit(full_name, bare, &base),
            "merge_base_commit": self.repository_commit(full_name, bare, &merge_base),
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": ahead,
            "commits": commits,
            "files": [],
        }))
    }
}

impl Respond for RestApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if header(request, "authorization").as_deref() != Some(&format!("Bearer {}", self.token)) {
            return error(401, "Bad credentials");
        }
        let path = request.url.path();
        let Some(rest) = path.strip_prefix("/api/v3/repos/") else {
            return error(404, "Not Found");
        };
        let mut parts = rest.splitn(3, '/');
        let (Some(owner), Some(repo), Some(tail)) = (parts.next(), parts.next(), parts.next())
        else {
            return error(404, "Not Found");
        };
        let full_name = format!("{owner}/{repo}");
        let bare = self.root.join(format!("{full_name}.git"));
        if !bare.is_dir() {
            return error(404, "Not Found");
        }
        let tail = kargo_core::urls::percent_decode(tail);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match (request.method.as_str(), tail.as_str()) {
            ("GET", t) if t.starts_with("git/ref/") => {
                self.get_ref(&full_name, &bare, &t["git/ref/".len()..])
            }
            ("POST", "git/refs") => self.create_ref(&full_name, &bare, &body),
            ("PATCH", t) if t.starts_with("git/refs/") => {
                self.update_ref(&full_name, &bare, &t["git/refs/".len()..], &body)
            }
            ("DELETE", t) if t.starts_with("git/refs/") => {
                self.delete_ref(&bare, &t["git/refs/".len()..])
            }
            ("POST", "git/commits") => self.create_commit(&full_name, &bare, &body),
            ("GET", t) if t.starts_with("git/commits/") => {
                match self.git_commit(&full_name, &bare, &t["git/commits/".len()..]) {
                    Some(commit) => ResponseTemplate::new(200).set_body_json(commit),
                    None => error(404, "Not Found"),
                }
            }
            ("GET", t) if t.starts_with("compare/") => {
                self.compare(&full_name, &bare, &t["compare/".len()..], request)
            }
            _ => error(404, "Not Found"),
        }
    }
}
