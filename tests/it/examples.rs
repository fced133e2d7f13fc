//! The examples run as a user would run them, and do what they say.

use std::process::Command;

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

#[test]
fn quickstart_promotes_to_prod_through_a_pull_request_and_publishes_the_function_url() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    for run in 1..=2 {
        let output = Command::new(crate::example_bin("quickstart"))
            .arg(&root)
            .env("KARGO_GIT_CACHE", dir.path().join("cache"))
            .output()
            .expect("the example runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "run {run}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("Pull request #1: Promote guestbook v0.3.0 to prod"),
            "{stdout}"
        );
    }
    // What prod's values hold is what Terraform computed from the promoted
    // function image, after the pull request was merged.
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
    // The history, oldest first: the seed, dev and staging straight to
    // main, prod's commit with the plan on its branch, the merge of the
    // pull request, and the function-URL commit.
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
    ];
    assert_eq!(subjects.len(), expected.len(), "{log}");
    for (subject, expected) in subjects.iter().zip(expected) {
        assert!(
            subject.starts_with(expected),
            "{subject:?} is not {expected:?} in\n{log}"
        );
    }
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
    assert!(show("envs/prod/terraform/plan.txt").contains("+ function_url"));
}
