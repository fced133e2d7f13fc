//! Credentials stay where they belong: never in a repository's
//! configuration, and only ever sent to the repository they are for,
//! per request (submodules and redirects included). Two smart-HTTP servers
//! on two loopback addresses stand for two hosts.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use kargo_core::credentials::Credentials;
use kargo_git::checkout::{self, CredentialLookup, Revision};
use kargo_git::push;
use kargo_git::{RepoCache, cache, commit};
use kargo_test_support::git::{bare_repo, clone, git};
use kargo_test_support::git_server::HttpServer;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "t0ps3cret";

fn serve(tmp: &Path, ip: &str, name: &str, user: &str, password: &str) -> HttpServer {
    let root = tmp.join(format!("srv-{ip}"));
    std::fs::create_dir_all(&root).unwrap();
    if !root.join(format!("{name}.git")).exists() {
        bare_repo(&root, name, &[("README", "hello\n")]);
    }
    HttpServer::start_at(ip, &root, user, password)
}

/// Every file under `dir` whose name is `config`, with its text.
fn configs(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "config") {
                found.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_url_or_passed_never_reach_a_repository_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve(tmp.path(), "127.0.0.1", "app", "kargo", SECRET);
    let with_secret = format!("http://kargo:{SECRET}@127.0.0.1:{}/app.git", server.port);
    for blobless in [false, true] {
        let cache = RepoCache::new(tmp.path().join(format!("cache-{blobless}")));
        let options = cache::Options::default().with_blobless(blobless);
        let fetched = cache
            .fetch(
                &with_secret,
                None,
                &options,
                Arc::new(AtomicBool::new(false)),
            )
            .await
            .unwrap();
        // A blobless checkout fetches the files it writes with the URL's
        // credentials, passed per command.
        let dir = tmp.path().join(format!("w-{blobless}"));
        let options = checkout::Options::new(Revision::Branch("main".into()));
        checkout::checkout(&fetched, &dir, &options, None).unwrap();
        let bare = tmp.path().join("srv-127.0.0.1/app.git");
        assert_eq!(
            std::fs::read_to_string(dir.join("README")).unwrap().trim(),
            git(&bare, &["show", "main:README"])
        );
        let origin = git(&dir, &["config", "remote.origin.url"]);
        assert_eq!(origin, server.url("app"));
        // Pushing takes the credentials per command too.
        std::fs::write(dir.join("README"), format!("{blobless}\n")).unwrap();
        commit::commit(&dir, "edit", None).unwrap();
        push::push(
            &dir,
            &push::Options::default(),
            Some(Credentials::new("kargo", SECRET)),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        for root in [dir.as_path(), cache.root()] {
            for (path, text) in configs(root) {
                assert!(!text.contains(SECRET), "{path} holds the secret:\n{text}");
            }
        }
    }
}

/// A superproject on 127.0.0.1 whose submodule `vendor/lib` is on
/// 127.0.0.2, each server with its own credentials.
async fn superproject_with_a_foreign_submodule(
    tmp: &Path,
) -> (HttpServer, HttpServer, cache::Fetched) {
    let app = serve(tmp, "127.0.0.1", "app", "kargo", SECRET);
    let lib = serve(tmp, "127.0.0.2", "lib", "other", "b-secret");
    let seed = tmp.join("seed");
    clone(&tmp.join("srv-127.0.0.1/app.git"), &seed);
    let lib_dir = tmp.join("srv-127.0.0.2/lib.git");
    git(
        &seed,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            lib_dir.to_str().unwrap(),
            "vendor/lib",
        ],
    );
    git(
        &seed,
        &[
            "config",
            "-f",
            ".gitmodules",
            "submodule.vendor/lib.url",
            &lib.url("lib"),
        ],
    );
    git(&seed, &["commit", "-q", "-am", "vendor lib"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    let cache = RepoCache::new(tmp.join("cache"));
    let fetched = cache
        .fetch(
            &app.url("app"),
            Some(Credentials::new("kargo", SECRET)),
            &cache::Options::default(),
            Arc::new(AtomicBool::new(false)),
        )
        .await
        .unwrap();
    (app, lib, fetched)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submodule_on_another_host_never_gets_the_superprojects_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let (_app, lib, fetched) = superproject_with_a_foreign_submodule(tmp.path()).await;
    let creds = Credentials::new("kargo", SECRET);
    let options =
        checkout::Options::new(Revision::Branch("main".into())).with_recurse_submodules(true);

    // No credentials for the library: its server asks, gets nothing, and
    // the checkout fails naming the submodule.
    let err = checkout::checkout(&fetched, &tmp.path().join("w1"), &options, Some(&creds))
        .unwrap_err()
        .to_string();
    assert!(err.contains("submodule"), "{err}");
    assert!(
        !lib.saw_credentials("kargo", SECRET),
        "the library's host got the app's secret"
    );

    // Credentials looked up for the library's own URL serve it.
    let lib_url = lib.url("lib");
    let lookup = CredentialLookup::new(move |url| {
        (url == lib_url).then(|| Credentials::new("other", "b-secret"))
    });
    let dir = tmp.path().join("w2");
    checkout::checkout(
        &fetched,
        &dir,
        &options.with_submodule_credentials(Some(lookup)),
        Some(&creds),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("vendor/lib/README")).unwrap(),
        "hello\n"
    );
    assert!(lib.saw_credentials("other", "b-secret"));
    assert!(!lib.saw_credentials("kargo", SECRET));
    for (path, text) in configs(&dir) {
        assert!(
            !text.contains("b-secret") && !text.contains(SECRET),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_gets_no_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    // The credentials are for the repository on 127.0.0.2, which redirects
    // to a server on 127.0.0.1 that would accept the very same ones.
    let target = serve(tmp.path(), "127.0.0.1", "app", "kargo", SECRET);
    let redirector = HttpServer::redirecting_at("127.0.0.2", &target.base());
    let url = redirector.url("app");
    let creds = Credentials::new("kargo", SECRET);
    for blobless in [false, true] {
        let cache = RepoCache::new(tmp.path().join(format!("cache-{blobless}")));
        let err = cache
            .fetch(
                &url,
                Some(creds.clone()),
                &cache::Options::default().with_blobless(blobless),
                Arc::new(AtomicBool::new(false)),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains(SECRET), "{err}");
        // The redirect was followed: the target was asked.
        assert!(target.requests() > 0, "blobless={blobless}: {err}");
        assert!(
            !target.saw_credentials("kargo", SECRET),
            "blobless={blobless}: the redirect target got the credentials: {err}"
        );
    }
}
