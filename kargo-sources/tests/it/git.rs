//! The git source against real repositories: bare repositories made with
//! the git CLI (fixed authors and dates), read through kargo-git's cache.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kargo_core::model::{FreightCreationPolicy, RepoSubscription, Warehouse};
use kargo_git::RepoCache;
use kargo_sources::git::GitSource;
use kargo_sources::warehouse::Sources;
use kargo_sources::{DiscoverOptions, Discovered, GitDiscovery, Source};
use serde_json::json;

/// A working clone pushing to a bare repository, with a clock that moves
/// one minute per commit.
struct Fixture {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    bare: PathBuf,
    cache: PathBuf,
    clock: u64,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let bare = tmp.path().join("app.git");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&bare).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let mut f = Fixture {
            cache: tmp.path().join("cache"),
            _tmp: tmp,
            work,
            bare,
            clock: 1_700_000_000,
        };
        f.run_in(
            &f.bare.clone(),
            &["init", "-q", "--bare", "--initial-branch=main"],
        );
        f.git(&["init", "-q", "--initial-branch=main"]);
        let bare = f.bare.to_str().unwrap().to_owned();
        f.git(&["remote", "add", "origin", &bare]);
        f
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    fn run_in(&mut self, dir: &Path, args: &[&str]) -> String {
        self.run_as(dir, args, "A U Thor", "author@example.com")
    }

    fn run_as(&mut self, dir: &Path, args: &[&str], name: &str, email: &str) -> String {
        self.clock += 60;
        let date = format!("@{} +0000", self.clock);
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", name)
            .env("GIT_AUTHOR_EMAIL", email)
            .env("GIT_COMMITTER_NAME", "Com Mitter")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn git(&mut self, args: &[&str]) -> String {
        let work = self.work.clone();
        self.run_in(&work, args)
    }

    /// Writes `files`, commits them with `subject` and pushes `main`;
    /// returns the commit id.
    fn commit(&mut self, subject: &str, files: &[&str]) -> String {
        self.commit_as(subject, files, "A U Thor", "author@example.com")
    }

    fn commit_as(&mut self, subject: &str, files: &[&str], name: &str, email: &str) -> String {
        for file in files {
            let path = self.work.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let old = std::fs::read_to_string(&path).unwrap_or_default();
            std::fs::write(&path, format!("{old}{subject}\n")).unwrap();
        }
        let work = self.work.clone();
        self.run_as(&work, &["add", "-A"], name, email);
        self.run_as(&work, &["commit", "-q", "-m", subject], name, email);
        self.git(&["push", "-q", "origin", "HEAD:main"]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Tags HEAD (annotated when `message` is given) and pushes the tag.
    fn tag(&mut self, tag: &str, message: Option<&str>) {
        match message {
            Some(m) => self.git(&["tag", "-a", tag, "-m", m]),
            None => self.git(&["tag", tag]),
        };
        self.git(&["push", "-q", "origin", tag]);
    }

    fn source(&self) -> GitSource {
        GitSource::builder()
            .with_cache(RepoCache::new(&self.cache))
            .build()
    }

    fn subscription(&self, fields: serde_json::Value) -> RepoSubscription {
        let mut git = json!({"repoURL": self.url()});
        git.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::from_value(json!({"git": git})).unwrap()
    }

    async fn discover(&self, source: &GitSource, fields: serde_json::Value) -> GitDiscovery {
        let found = source
            .discover(&self.subscription(fields), DiscoverOptions::default())
            .await
            .unwrap();
        let Discovered::Commits(found) = found else {
            panic!("commits expected, got {found:?}")
        };
        found
    }
}

fn tags(found: &GitDiscovery) -> Vec<&str> {
    found.commits.iter().map(|c| c.tag.as_str()).collect()
}

fn ids(found: &GitDiscovery) -> Vec<&str> {
    found.commits.iter().map(|c| c.id.as_str()).collect()
}

#[tokio::test]
async fn newest_from_branch_lists_first_parent_history_newest_first() {
    let mut f = Fixture::new();
    let first = f.commit("first", &["a.txt"]);
    let second = f.commit("second", &["a.txt"]);
    let third = f.commit_as("third\n\nbody", &["b.txt"], "Bot", "bot@example.com");
    let source = f.source();

    let found = f.discover(&source, json!({})).await;
    assert_eq!(ids(&found), [&third, &second, &first]);
    let newest = &found.commits[0];
    assert_eq!(newest.subject, "third");
    assert_eq!(newest.author, "Bot <bot@example.com>");
    assert_eq!(newest.committer, "Com Mitter <committer@example.com>");
    // The subscription named no branch, and Kargo records its branch as is.
    assert_eq!(newest.branch, "");
    let date: i64 = f.git(&["log", "-1", "--format=%ct"]).parse().unwrap();
    assert_eq!(newest.creator_date.unwrap().unix_millis(), date * 1000);

    // discoveryLimit cuts the list; the subscription's branch is recorded.
    f.git(&["push", "-q", "origin", "HEAD:release"]);
    let found = f
        .discover(&source, json!({"branch": "release", "discoveryLimit": 2}))
        .await;
    assert_eq!(ids(&found), [&third, &second]);
    assert_eq!(found.commits[0].branch, "release");
}

#[tokio::test]
async fn freight_from_a_git_subscription_carries_kargos_commit_fields() {
    let mut f = Fixture::new();
    let id = f.commit("deploy v1", &["deploy/values.yaml"]);
    f.tag("v1.0.0", Some("release"));
    let warehouse: Warehouse = serde_json::from_value(json!({
        "metadata": {"name": "wh", "namespace": "demo"},
        "spec": {"subscriptions": [
            {"name": "cfg", "git": {"repoURL": f.url(), "commitSelectionStrategy": "SemVer"}}
        ]}
    }))
    .unwrap();
    let sources = Sources::new().with(f.source());
    let found = sources
        .discover_warehouse(&warehouse, DiscoverOptions::default())
        .await
        .unwrap();
    let freight = found.freight.unwrap();
    let commit = &freight.commits[0];
    assert_eq!(commit.repo_url, f.url());
    assert_eq!(commit.id, id);
    assert_eq!(commit.tag, "v1.0.0");
    assert_eq!(commit.message, "deploy v1");
    assert_eq!(commit.author, "A U Thor <author@example.com>");
    assert_eq!(commit.subscription_name, "cfg");
    // The ID is Kargo's recipe over `normalizedRepo:tag:id:subscription`.
    use sha1::Digest as _;
    let part = format!(
        "{}:v1.0.0:{id}:cfg",
        kargo_core::urls::normalize_git(&f.url())
    );
    let expected = hex::encode(sha1::Sha1::digest(format!("Warehouse/wh:{part}")));
    assert_eq!(freight.metadata.name, expected);
}

#[tokio::test]
async fn semver_lexical_and_newest_tag_order_tags_as_kargo_does() {
    let mut f = Fixture::new();
    f.commit("one", &["a"]);
    f.tag("v1.2.0", None);
    f.commit("two", &["a"]);
    f.tag("v1.10.0", Some("annotated"));
    f.commit("three", &["a"]);
    f.tag("v2.0.0-rc.1", None);
    f.tag("1.3", None);
    f.tag("zeta", None);
    // An annotated tag made later on an old commit: newest by tagger date.
    f.git(&["tag", "-a", "old-but-new", "-m", "late", "HEAD~2"]);
    f.git(&["push", "-q", "origin", "old-but-new"]);
    let source = f.source();

    let semver = f
        .discover(&source, json!({"commitSelectionStrategy": "SemVer"}))
        .await;
    assert_eq!(tags(&semver), ["v2.0.0-rc.1", "v1.10.0", "v1.2.0"]);
    let constrained = f
        .discover(
            &source,
            json!({"commitSelectionStrategy": "SemVer", "semverConstraint": "^1.0.0", "strictSemvers": false}),
        )
        .await;
    assert_eq!(tags(&constrained), ["v1.10.0", "1.3", "v1.2.0"]);

    let lexical = f
        .discover(
            &source,
            json!({"commitSelectionStrategy": "Lexical", "ignoreTagsRegexes": ["^old"]}),
        )
        .await;
    assert_eq!(
        tags(&lexical),
        ["zeta", "v2.0.0-rc.1", "v1.2.0", "v1.10.0", "1.3"]
    );

    let newest = f
        .discover(
            &source,
            json!({"commitSelectionStrategy": "NewestTag", "allowTagsRegexes": ["^v", "^old"]}),
        )
        .await;
    // old-but-new was tagged last; v2.0.0-rc.1 is a lightweight tag on the
    // newest commit, v1.10.0 an annotated tag (its tagger date).
    assert_eq!(
        tags(&newest),
        ["old-but-new", "v2.0.0-rc.1", "v1.10.0", "v1.2.0"]
    );
    assert_eq!(newest.commits[0].subject, "one");
}

#[tokio::test]
async fn path_filters_of_every_kind_select_the_commits_that_touch_them() {
    let mut f = Fixture::new();
    let a1 = f.commit("a1", &["apps/a/values.yaml"]);
    let b1 = f.commit("b1", &["apps/b/values.yaml"]);
    let docs = f.commit("docs", &["docs/guide.md"]);
    let a2 = f.commit("a2", &["apps/a/README.md"]);
    let deep = f.commit("deep", &["apps/a/sub/values.yaml"]);
    let source = f.source();

    let base = f
        .discover(&source, json!({"includePaths": ["apps/a"]}))
        .await;
    assert_eq!(ids(&base), [&deep, &a2, &a1]);

    let glob = f
        .discover(
            &source,
            json!({"includePaths": ["glob:apps/*/values.yaml"]}),
        )
        .await;
    assert_eq!(ids(&glob), [&b1, &a1]);

    let regex = f
        .discover(&source, json!({"includePaths": ["regex:\\.md$"]}))
        .await;
    assert_eq!(ids(&regex), [&a2, &docs]);

    let excluded = f
        .discover(
            &source,
            json!({"includePaths": ["apps"], "excludePaths": ["glob:**/README.md", "apps/b"]}),
        )
        .await;
    assert_eq!(ids(&excluded), [&deep, &a1]);

    // Tags are filtered by the paths their commit changed.
    f.git(&["tag", "t-docs", &docs]);
    f.git(&["tag", "t-b", &b1]);
    f.git(&["push", "-q", "origin", "--tags"]);
    let tagged = f
        .discover(
            &source,
            json!({"commitSelectionStrategy": "Lexical", "excludePaths": ["docs"]}),
        )
        .await;
    assert_eq!(tags(&tagged), ["t-b"]);
}

#[tokio::test]
async fn blobless_subscriptions_discover_from_commits_and_trees_alone() {
    let mut f = Fixture::new();
    let bare = f.bare.clone();
    f.run_in(&bare, &["config", "uploadpack.allowFilter", "true"]);
    let a1 = f.commit("a1", &["apps/a/values.yaml"]);
    f.commit("b1", &["apps/b/values.yaml"]);
    let found = f
        .discover(
            &f.source(),
            json!({"includePaths": ["glob:apps/a/*.yaml"], "blobless": true}),
        )
        .await;
    assert_eq!(ids(&found), [&a1]);
    // The cached repository holds no file contents.
    let blob = f.run_in(&bare, &["rev-parse", "main:apps/a/values.yaml"]);
    let cached = RepoCache::new(&f.cache).repo_dir(&f.url());
    let held = Command::new("git")
        .args(["--no-lazy-fetch", "cat-file", "-e", &blob])
        .current_dir(&cached)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(
        !held.success(),
        "the blob was fetched into {}",
        cached.display()
    );
}

#[tokio::test]
async fn long_histories_select_what_git_log_selects() {
    let mut f = Fixture::new();
    // Committed locally and pushed once: the history is what matters.
    let commit = |f: &mut Fixture, subject: &str, file: &str| {
        let path = f.work.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{subject}\n")).unwrap();
        f.git(&["add", "-A"]);
        f.git(&["commit", "-qm", subject]);
    };
    for i in 0..100 {
        let file = match i % 7 {
            0 => "apps/a/values.yaml",
            3 => "apps/b/values.yaml",
            5 => "apps/a/sub/x.yaml",
            _ => "docs/notes.md",
        };
        commit(&mut f, &format!("c{i}"), file);
        if i == 60 {
            // apps/a turns from a directory into a file, and back.
            f.git(&["rm", "-rq", "apps/a"]);
            commit(&mut f, "apps/a is a file", "apps/a");
            f.git(&["rm", "-q", "apps/a"]);
            commit(&mut f, "apps/a is a directory again", "apps/a/values.yaml");
        }
    }
    f.git(&["push", "-q", "origin", "HEAD:main"]);
    let source = f.source();
    let bare = f.bare.clone();
    for (paths, limit) in [
        (vec!["apps/a"], 20),
        (vec!["apps/a/sub"], 100),
        (vec!["apps/b", "apps/a/sub"], 7),
        (vec!["docs"], 100),
    ] {
        let mut args = vec!["log", "--first-parent", "--format=%H"];
        let max = format!("--max-count={limit}");
        args.push(&max);
        args.push("--");
        args.extend(&paths);
        let expected = f.run_in(&bare, &args);
        let expected: Vec<&str> = expected.lines().collect();
        let found = f
            .discover(
                &source,
                json!({"includePaths": paths, "discoveryLimit": limit}),
            )
            .await;
        assert_eq!(
            ids(&found),
            expected,
            "includePaths {paths:?}, limit {limit}"
        );
    }
}

#[tokio::test]
async fn expression_filter_sees_commit_and_tag_metadata() {
    let mut f = Fixture::new();
    let human = f.commit("feat: one", &["a"]);
    f.tag("v1.0.0", Some("stable"));
    f.commit_as("chore: bump", &["a"], "Bot", "bot@example.com");
    f.tag("v1.1.0", Some("candidate"));
    let source = f.source();

    let commits = f
        .discover(
            &source,
            json!({"expressionFilter": "!(author contains '<bot@example.com>') && subject startsWith 'feat:'"}),
        )
        .await;
    assert_eq!(ids(&commits), [&human]);

    let by_annotation = f
        .discover(
            &source,
            json!({"commitSelectionStrategy": "SemVer", "expressionFilter": "annotation == 'stable' && tagger contains 'Com Mitter'"}),
        )
        .await;
    assert_eq!(tags(&by_annotation), ["v1.0.0"]);

    // Dates are RFC 3339 text in UTC; a non-bool result is read as Go's
    // ParseBool would. v1.1.0 was tagged after v1.0.0.
    let first: i64 = f
        .git(&[
            "for-each-ref",
            "--format=%(creatordate:unix)",
            "refs/tags/v1.0.0",
        ])
        .parse()
        .unwrap();
    let after_first = kargo_core::time::Timestamp::from_unix_millis((first + 1) * 1000);
    let dated = f
        .discover(
            &source,
            json!({"commitSelectionStrategy": "NewestTag",
                   "expressionFilter": format!("creatorDate >= '{after_first}' ? 'true' : 'false'")}),
        )
        .await;
    assert_eq!(tags(&dated), ["v1.1.0"]);
}

#[tokio::test]
async fn unchanged_refs_mean_no_fetch_and_a_moved_branch_means_one() {
    let mut f = Fixture::new();
    f.commit("one", &["a"]);
    let source = f.source();
    let sub = json!({"includePaths": ["a"]});

    let first = f.discover(&source, sub.clone()).await;
    let stats = source.stats();
    assert_eq!((stats.listings, stats.fetches, stats.reused), (1, 1, 0));

    // Nothing moved: one ls-remote, no fetch, the same answer.
    let again = f.discover(&source, sub.clone()).await;
    assert_eq!(again, first);
    let stats = source.stats();
    assert_eq!((stats.listings, stats.fetches, stats.reused), (2, 1, 1));

    // A tag is not watched by NewestFromBranch: still no fetch.
    f.tag("v1.0.0", None);
    f.discover(&source, sub.clone()).await;
    assert_eq!(source.stats().fetches, 1);

    // The branch moved: one fetch, and the new commit is found.
    let two = f.commit("two", &["a"]);
    let moved = f.discover(&source, sub.clone()).await;
    assert_eq!(moved.commits[0].id, two);
    assert_eq!(source.stats().fetches, 2);

    // Another subscription of the same repository finds the cache up to
    // date and does not fetch either.
    let other = f
        .discover(&source, json!({"commitSelectionStrategy": "Lexical"}))
        .await;
    assert_eq!(tags(&other), ["v1.0.0"]);
    assert_eq!(source.stats().fetches, 2);
}

#[tokio::test]
async fn bad_subscriptions_are_errors_naming_the_subscription_and_field() {
    let mut f = Fixture::new();
    f.commit("one", &["a"]);
    let source = f.source();
    for (fields, needle) in [
        (
            json!({"commitSelectionStrategy": "SemVer", "semverConstraint": "not a range"}),
            "semverConstraint",
        ),
        (
            json!({"commitSelectionStrategy": "Lexical", "allowTagsRegexes": ["("]}),
            "allowTagsRegexes",
        ),
        (json!({"includePaths": ["regex:("]}), "includePaths"),
        (json!({"excludePaths": ["glob:a/["]}), "excludePaths"),
        (
            json!({"expressionFilter": "author ==="}),
            "expressionFilter",
        ),
        (json!({"discoveryLimit": 0}), "discoveryLimit"),
        (
            json!({"commitSelectionStrategy": "NewestTag", "ignoreTags": ["v1"]}),
            "ignoreTags",
        ),
        (json!({"since": "yesterday"}), "since"),
    ] {
        let mut sub = f.subscription(fields.clone());
        sub.name = "cfg".into();
        let err = source
            .discover(&sub, DiscoverOptions::default())
            .await
            .expect_err(&fields.to_string());
        assert!(matches!(err, kargo_core::Error::Invalid(_)), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("git subscription \"cfg\"") && msg.contains(needle),
            "{msg}"
        );
    }
    // Nothing was fetched for invalid subscriptions.
    assert_eq!(source.stats().listings, 0);

    // An unknown strategy is rejected when the subscription is read.
    let err = serde_json::from_value::<RepoSubscription>(json!({
        "name": "cfg",
        "git": {"repoURL": f.url(), "commitSelectionStrategy": "Newest"}
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("git subscription \"cfg\"") && err.to_string().contains("Newest"),
        "{err}"
    );

    // A missing branch names the branch and the subscription.
    let mut sub = f.subscription(json!({"branch": "nope"}));
    sub.name = "cfg".into();
    let err = source
        .discover(&sub, DiscoverOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("nope") && err.to_string().contains("\"cfg\""),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_repositories_name_the_subscription_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let source = GitSource::builder()
        .with_cache(RepoCache::new(tmp.path()))
        .build();
    let sub: RepoSubscription = serde_json::from_value(json!({
        "git": {"repoURL": "http://user:s3cret@127.0.0.1:9/none.git"}
    }))
    .unwrap();
    let err = source
        .discover(&sub, DiscoverOptions::default())
        .await
        .unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(msg.contains("git subscription"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
}

fn warehouse(f: &Fixture, spec: serde_json::Value) -> Warehouse {
    let mut spec = spec;
    spec["subscriptions"] = json!([
        {"git": {"repoURL": f.url(), "commitSelectionStrategy": "SemVer"}}
    ]);
    serde_json::from_value(json!({"metadata": {"name": "wh"}, "spec": spec})).unwrap()
}

#[tokio::test]
async fn freight_creation_criteria_and_policy_decide_what_is_created() {
    let mut f = Fixture::new();
    f.commit("one", &["a"]);
    f.tag("v1.0.0", None);
    let sources = Sources::new().with(f.source());
    let run = |w: Warehouse| {
        let sources = sources.clone();
        async move {
            sources
                .discover_warehouse(&w, DiscoverOptions::default())
                .await
        }
    };

    // No criteria, Automatic: the Freight is to be created.
    let found = run(warehouse(&f, json!({}))).await.unwrap();
    assert!(found.criteria_satisfied);
    assert_eq!(found.freight_to_create(), found.freight.as_ref());
    assert!(found.freight.is_some());

    // Criteria see the Freight about to be made through commitFrom.
    let holds = format!("commitFrom('{}').Tag == 'v1.0.0'", f.url());
    let found = run(warehouse(
        &f,
        json!({"freightCreationCriteria": {"expression": holds}}),
    ))
    .await
    .unwrap();
    assert!(found.criteria_satisfied);
    assert!(found.freight_to_create().is_some());

    let fails = format!("commitFrom('{}').Tag startsWith 'v2'", f.url());
    let found = run(warehouse(
        &f,
        json!({"freightCreationCriteria": {"expression": fails}}),
    ))
    .await
    .unwrap();
    assert!(!found.criteria_satisfied);
    assert!(
        found.freight.is_some(),
        "discovery still reports the Freight"
    );
    assert_eq!(found.freight_to_create(), None);

    // A non-bool result is read as Go's ParseBool would; other text is an error.
    let found = run(warehouse(
        &f,
        json!({"freightCreationCriteria": {"expression": "'T'"}}),
    ))
    .await
    .unwrap();
    assert!(found.criteria_satisfied);
    let err = run(warehouse(
        &f,
        json!({"freightCreationCriteria": {"expression": "'maybe'"}}),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, kargo_core::Error::Invalid(_)), "{err:?}");
    assert!(
        err.to_string().contains("Warehouse \"wh\"")
            && err.to_string().contains("freightCreationCriteria"),
        "{err}"
    );

    // Manual: discovered, never created automatically.
    let found = run(warehouse(&f, json!({"freightCreationPolicy": "Manual"})))
        .await
        .unwrap();
    assert_eq!(found.freight_creation_policy, FreightCreationPolicy::Manual);
    assert!(found.freight.is_some());
    assert_eq!(found.freight_to_create(), None);

    // The report serializes every subscription's result.
    let report = serde_json::to_value(&found).unwrap();
    assert_eq!(
        report["results"][0]["discovered"]["commits"]["commits"][0]["tag"],
        "v1.0.0"
    );
}

#[tokio::test]
async fn git_source_passes_the_source_conformance_suite() {
    use kargo_sources::conformance::source::{Case, all};
    let mut f = Fixture::new();
    f.commit("one", &["a"]);
    f.tag("v1.0.0", None);
    f.commit("two", &["a"]);
    f.tag("v1.1.0", None);
    f.commit("three", &["a"]);
    f.tag("v2.0.0", None);
    let case = Case {
        subscription: f
            .subscription(json!({"commitSelectionStrategy": "SemVer", "discoveryLimit": 2})),
        expected_len: 2,
        expected_latest: "v2.0.0".into(),
        foreign: serde_json::from_value(json!({"image": {"repoURL": "x/y"}})).unwrap(),
    };
    all(&f.source(), &case).await;
    let boxed: Box<dyn Source> = Box::new(f.source());
    all(&boxed, &case).await;
    let shared: std::sync::Arc<dyn Source> = std::sync::Arc::new(f.source());
    all(&shared, &case).await;
}

/// Kargo's Test_newestFromBranchSelector_selectCommits
/// (`pkg/controller/git/commit/newest_from_branch_selector_test.go`) on a
/// real repository: five commits A (newest) to E, where only A does not
/// touch `some-path/`.
#[tokio::test]
async fn kargo_newest_from_branch_select_commits() {
    let mut f = Fixture::new();
    let e = f.commit("E", &["some-path/some-file"]);
    let d = f.commit("D", &["some-path/some-file"]);
    let c = f.commit("C", &["some-path/some-file"]);
    let b = f.commit("B", &["some-path/some-file"]);
    let a = f.commit("A", &["elsewhere"]);
    let source = f.source();
    // "no filters specified": the newest, up to discoveryLimit.
    let found = f.discover(&source, json!({"discoveryLimit": 3})).await;
    assert_eq!(ids(&found), [&a, &b, &c]);
    let found = f.discover(&source, json!({})).await;
    assert_eq!(ids(&found), [&a, &b, &c, &d, &e]);
    // "filter expression filters out commits"
    let found = f
        .discover(
            &source,
            json!({"discoveryLimit": 3, "expressionFilter": format!("id != \"{a}\"")}),
        )
        .await;
    assert_eq!(ids(&found), [&b, &c, &d]);
    // "path filter filters out commits"
    let found = f
        .discover(
            &source,
            json!({"discoveryLimit": 3, "includePaths": ["some-path/"]}),
        )
        .await;
    assert_eq!(ids(&found), [&b, &c, &d]);
    // "since with no filters": only commits at or after the cutoff.
    let c_date: i64 = f.git(&["log", "-1", "--format=%ct", &c]).parse().unwrap();
    let cutoff = kargo_core::time::Timestamp::from_unix_millis(c_date * 1000);
    let found = f
        .discover(
            &source,
            json!({"discoveryLimit": 5, "since": cutoff.to_string()}),
        )
        .await;
    assert_eq!(ids(&found), [&a, &b, &c]);
    // "error evaluating expression": a result that is not a bool.
    let err = source
        .discover(
            &f.subscription(json!({"expressionFilter": "\"invalid\""})),
            DiscoverOptions::default(),
        )
        .await
        .expect_err("not a bool");
    assert!(err.to_string().contains("not a bool"), "{err}");
}
