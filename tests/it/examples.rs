//! The examples run as a user would run them, and do what they say.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What [`tree`] records of a path: whether it is a directory, its mode,
/// its modification time (seconds, nanoseconds) and its bytes.
type Entry = (bool, u32, i64, i64, Vec<u8>);

/// Everything under `root` (itself included), to tell that nothing changed.
fn tree(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = path.symlink_metadata().unwrap();
        let bytes = if meta.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            Vec::new()
        } else {
            std::fs::read(&path).unwrap()
        };
        let entry = (
            meta.is_dir(),
            meta.mode(),
            meta.mtime(),
            meta.mtime_nsec(),
            bytes,
        );
        found.insert(path.strip_prefix(root).unwrap().to_path_buf(), entry);
    }
    found
}

/// Writes `contents` to `dir/name`, creating parent directories.
fn write(dir: &Path, name: &str, contents: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// `scripts/quickstart.sh` of this checkout.
fn quickstart_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/quickstart.sh")
}

#[test]
fn quickstart_and_its_script_refuse_a_directory_they_did_not_make_and_change_nothing_in_it() {
    // A checkout, as `scripts/quickstart.sh .` once emptied one; with a
    // `gitops.git` of its own, a name the demo uses.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("checkout");
    for (path, contents) in [
        (".git/HEAD", "ref: refs/heads/main\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("gitops.git/config", "[core]\n\tbare = true\n"),
        ("README.md", "mine\n"),
    ] {
        write(&root, path, contents);
    }
    std::fs::create_dir(root.join("empty")).unwrap();
    let before = tree(&root);

    let refused = "is not empty and was not made by the quickstart (it has no .kargo-quickstart file); nothing was changed";
    let demo = Command::new(crate::example_bin("quickstart"))
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&demo.stderr);
    assert_eq!(demo.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(refused), "{stderr}");
    assert!(
        stderr.contains(&root.display().to_string()),
        "names the directory: {stderr}"
    );
    assert_eq!(tree(&root), before, "the demo changed the directory");

    // The script, given `.` where the caller stands: the caller's
    // directory, refused before anything is built.
    let script = Command::new(quickstart_script())
        .arg(".")
        .current_dir(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&script.stderr);
    assert_eq!(script.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!(". {refused}")), "{stderr}");
    assert_eq!(tree(&root), before, "the script changed the directory");
}

#[test]
fn quickstart_and_its_script_print_their_usage_with_help() {
    let demo = Command::new(crate::example_bin("quickstart"))
        .arg("--help")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.status.success(), "{stdout}");
    assert!(
        stdout.contains("Usage: quickstart [OPTIONS] [DIR]"),
        "{stdout}"
    );
    assert!(stdout.contains("--serve"), "{stdout}");
    assert!(stdout.contains("new or empty directory"), "{stdout}");

    let script = Command::new(quickstart_script())
        .arg("--help")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&script.stdout);
    assert!(script.status.success(), "{stdout}");
    assert!(
        stdout.starts_with(
            "Usage: scripts/quickstart.sh [DIR] [--serve [--listen ADDR] [--auth FILE]]\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("refused and left untouched"), "{stdout}");
}

#[test]
fn custom_step_example_promotes_the_newest_release_with_the_host_step_and_source() {
    let output = Command::new(crate::example_bin("custom_step"))
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The host source picked 1.10.0 over 1.1.0 (semantic, not lexical,
    // order) and the host step's outputs fed the next step.
    assert!(stdout.contains("release 1.10.0"), "{stdout}");
    assert!(
        stdout.contains("2 objects under site/prod/1.10.0"),
        "{stdout}"
    );
}

/// Runs the quickstart in `root` with the git cache `cache`, asserts that
/// it succeeded and returns what it printed.
fn run_quickstart(root: &Path, cache: &Path) -> String {
    let output = Command::new(crate::example_bin("quickstart"))
        .arg(root)
        .env("KARGO_GIT_CACHE", cache)
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn quickstart_run_twice_in_one_directory_promotes_each_release_to_prod_through_a_pull_request() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let repo = root.join("gitops.git");
    let show = |path: &str| {
        let out = Command::new("git")
            .args([
                "--git-dir",
                repo.to_str().unwrap(),
                "show",
                &format!("main:{path}"),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{path}");
        String::from_utf8(out.stdout).unwrap()
    };

    let first = run_quickstart(&root, &dir.path().join("cache"));
    assert!(
        first.contains("prod: pull request #1: Promote guestbook v0.3.0 to prod"),
        "{first}"
    );
    // What prod's values hold is what Terraform computed from the promoted
    // function image, after the pull request was merged.
    let tfvars = show("envs/prod/terraform/terraform.tfvars");
    assert!(
        tfvars.contains("function_image = \"guestbook-function:1.1.0@sha256:"),
        "{tfvars}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&show("envs/prod/terraform/terraform.tfstate")).unwrap();
    let url = state["outputs"]["function_url"]["value"].as_str().unwrap();
    assert!(url.ends_with(".lambda-url.eu-west-1.on.aws/prod"), "{url}");
    let values = show("envs/prod/kubernetes/values.yaml");
    assert!(
        values.contains(&format!("    value: \"{url}\"")),
        "{values}"
    );
    assert!(values.contains("  tag: \"v0.3.0\" # promoted"), "{values}");
    let first_plan = show("envs/prod/terraform/plan.txt");
    assert!(first_plan.contains("+ function_url"), "{first_plan}");

    // The second run continues the first: the next release goes through
    // the same repository, whose prod already holds the first plan.txt
    // (the file-write that refused to replace it failed this run). A
    // file of the user's in the directory is left alone.
    write(&root, "notes.txt", "mine\n");
    let second = run_quickstart(&root, &dir.path().join("cache"));
    assert!(second.contains("continuing the demo in"), "{second}");
    assert!(
        second.contains("prod: pull request #2: Promote guestbook v0.4.0 to prod"),
        "{second}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("notes.txt")).unwrap(),
        "mine\n"
    );
    assert!(root.join(".kargo-quickstart").is_file());
    let values = show("envs/prod/kubernetes/values.yaml");
    assert!(values.contains("  tag: \"v0.4.0\" # promoted"), "{values}");
    assert!(
        values.contains(&format!("    value: \"{url}\"")),
        "{values}"
    );
    let second_plan = show("envs/prod/terraform/plan.txt");
    assert_ne!(
        second_plan, first_plan,
        "the second plan replaced the first"
    );
    assert!(!second_plan.contains("+ function_url"), "{second_plan}");

    // The history, oldest first: per release, the dev and staging commits
    // straight to main, prod's commit with the plan on its branch, the
    // merge of its pull request, and (when Terraform's output changed)
    // the function-URL commit.
    let log = Command::new("git")
        .args([
            "--git-dir",
            repo.to_str().unwrap(),
            "log",
            // Parents before children: commits made within one second
            // have no order by date.
            "--topo-order",
            "--reverse",
            "--format=%s",
            "main",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8(log.stdout).unwrap();
    let subjects: Vec<&str> = log.lines().collect();
    let expected = [
        "GitOps repository for guestbook",
        "dev: guestbook v0.3.0, function 1.1.0, FUNCTION_URL from terraform output",
        "staging: guestbook v0.3.0, function 1.1.0, FUNCTION_URL from terraform output",
        "prod: guestbook v0.3.0, function 1.1.0 (Terraform plan attached)",
        "Merge pull request #1 from kargo/promotion/prod.",
        "prod: guestbook v0.3.0, function 1.1.0, FUNCTION_URL from terraform output",
        "dev: guestbook v0.4.0, function 1.1.0, FUNCTION_URL from terraform output",
        "staging: guestbook v0.4.0, function 1.1.0, FUNCTION_URL from terraform output",
        "prod: guestbook v0.4.0, function 1.1.0 (Terraform plan attached)",
        "Merge pull request #2 from kargo/promotion/prod.",
    ];
    assert_eq!(subjects.len(), expected.len(), "{log}");
    for (subject, expected) in subjects.iter().zip(expected) {
        assert!(
            subject.starts_with(expected),
            "{subject:?} is not {expected:?} in\n{log}"
        );
    }
}
