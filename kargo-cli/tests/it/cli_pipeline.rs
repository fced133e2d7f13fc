//! The pipeline commands end to end, through the `kargo` binary, from
//! manifests: a Warehouse over an OCI image layout, Stages dev → staging →
//! prod promoting into a local git repository (git-clone, yaml-update,
//! git-commit, git-push), a command verification in dev, a soak time before
//! prod, a SQLite state file. `KARGO_NOW` fixes the time of each command.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use crate::support::{Output, kargo_bin, layout_with_tags, write};
use kargo_test_support::{PipelineWorld, STAGES};
use serde_json::Value;

/// A test's world ([`PipelineWorld`]) driven through the `kargo` binary.
struct World(PipelineWorld);

impl std::ops::Deref for World {
    type Target = PipelineWorld;
    fn deref(&self) -> &PipelineWorld {
        &self.0
    }
}

impl World {
    fn new(tags: &[(&str, &str)], stages: &str) -> World {
        World(PipelineWorld::new(tags, stages))
    }

    /// Runs `kargo ARGS --manifests M --state S` at time `now` (HH:MM).
    fn kargo(&self, now: &str, args: &[&str]) -> Output {
        self.kargo_env(now, args, &[])
    }

    fn kargo_env(&self, now: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(kargo_bin());
        cmd.args(args)
            .arg("--manifests")
            .arg(self.path("manifests"))
            .arg("--state")
            .arg(self.path("state.db"))
            .current_dir(self.dir.path())
            .env("KARGO_NOW", format!("2026-01-01T{now}:00Z"))
            .env("KARGO_GIT_CACHE", self.path("git-cache"))
            .env_remove("KARGO_LOG")
            .env_remove("KARGO_CRASH_AFTER_CHECKPOINT");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn pass(&self, now: &str) -> Output {
        let out = self.kargo(now, &["pipeline", "--once"]);
        assert_eq!(out.code, 0, "{out:?}");
        out
    }

    /// `kargo freight --json`, by image tag.
    fn freight(&self, now: &str) -> Vec<(String, Value)> {
        let out = self.kargo(now, &["freight", "--json"]);
        assert_eq!(out.code, 0, "{out:?}");
        let all: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["images"][0]["tag"].as_str().unwrap().to_owned(),
                    f.clone(),
                )
            })
            .collect()
    }

    fn freight_named(&self, now: &str, tag: &str) -> Value {
        self.freight(now)
            .into_iter()
            .find(|(t, _)| t == tag)
            .map(|(_, f)| f)
            .unwrap_or_else(|| panic!("no Freight for {tag}"))
    }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn freight_flows_through_verification_soak_approval_and_rollback() {
    let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], STAGES);

    // Auto-promotion into dev; dev's verification passes, so staging
    // follows in the same pass; prod waits for an hour of soak in staging.
    w.pass("10:00");
    assert_eq!(w.deployed("dev"), "v1.0.0");
    assert_eq!(w.deployed("staging"), "v1.0.0");
    assert_eq!(w.deployed("prod"), "v0", "soak time gates prod");
    let v1 = w.freight_named("10:00", "v1.0.0");
    assert_eq!(v1["kind"], "Freight");
    assert_eq!(keys(&v1["status"]["currentlyIn"]), ["dev", "staging"]);
    assert_eq!(keys(&v1["status"]["verifiedIn"]), ["dev", "staging"]);
    let v1_name = v1["metadata"]["name"].as_str().unwrap().to_owned();

    // Half-way through the soak: still waiting, and the table says so.
    w.pass("10:30");
    assert_eq!(w.deployed("prod"), "v0");
    let table = w.kargo("10:30", &["freight"]);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(
        table.stdout.contains("here,verified,soaking 30m0s/1h0m0s"),
        "{}",
        table.stdout
    );

    w.pass("11:01");
    assert_eq!(w.deployed("prod"), "v1.0.0", "soaked: prod takes v1");

    // v2 fails its verification in dev: it goes no further.
    layout_with_tags(
        &w.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
    );
    write(w.dir.path(), "broken", "");
    let out = w.pass("11:10");
    assert!(out.stderr.contains("smoke test failed"), "{}", out.stderr);
    assert_eq!(w.deployed("dev"), "v2.0.0");
    assert_eq!(
        w.deployed("staging"),
        "v1.0.0",
        "failed verification blocks"
    );
    let status = w.kargo("11:10", &["status", "--json"]);
    assert_eq!(status.code, 0, "{status:?}");
    let status: Value = serde_json::from_str(status.stdout.trim()).unwrap();
    let dev = status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "dev")
        .unwrap();
    assert_eq!(dev["verification"]["phase"], "Failed");
    assert!(
        dev["verification"]["message"]
            .as_str()
            .unwrap()
            .contains("smoke test failed")
    );
    let v2 = w.freight_named("11:10", "v2.0.0");
    let v2_name = v2["metadata"]["name"].as_str().unwrap().to_owned();
    let v2_alias = v2["alias"].as_str().unwrap().to_owned();
    assert_eq!(keys(&v2["status"]["verifiedIn"]), Vec::<String>::new());

    // Not available to staging: a person cannot promote it there either.
    let refused = w.kargo("11:11", &["promote", "staging", "--freight", &v2_name]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("not available to Stage `staging`"),
        "{}",
        refused.stderr
    );

    // A manual approval lets v2 skip staging: the next pass takes it to prod.
    let approved = w.kargo("11:12", &["approve", &v2_alias, "--stage", "prod"]);
    assert_eq!(approved.code, 0, "{approved:?}");
    w.pass("11:13");
    assert_eq!(w.deployed("prod"), "v2.0.0");
    assert_eq!(w.deployed("staging"), "v1.0.0");
    assert_eq!(
        keys(&w.freight_named("11:13", "v2.0.0")["status"]["approvedFor"]),
        ["prod"]
    );

    // Rollback: promote v1 into prod again. Auto-promotion of the origin is
    // held, so the next pass leaves prod alone.
    let rollback = w.kargo(
        "11:20",
        &["promote", "prod", "--freight", &v1_name, "--json"],
    );
    assert_eq!(rollback.code, 0, "{rollback:?}");
    let json = rollback.json();
    assert_eq!(json["phase"], "Succeeded");
    assert_eq!(json["stage"], "prod");
    assert_eq!(json["freight"], v1_name.as_str());
    assert_eq!(json["steps"].as_array().unwrap().len(), 4);
    assert_eq!(w.deployed("prod"), "v1.0.0");
    w.pass("11:30");
    assert_eq!(w.deployed("prod"), "v1.0.0", "held");
    let status = w.kargo("11:30", &["status"]);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("prod") && l.contains(&v1_name[..7])),
        "the hold names the Freight promoted by hand:\n{}",
        status.stdout
    );

    // History: prod's promotions newest first.
    let history = w.kargo("11:30", &["history", "prod", "--json"]);
    assert_eq!(history.code, 0, "{history:?}");
    let history: Value = serde_json::from_str(history.stdout.trim()).unwrap();
    let promotions: Vec<(&str, &str, &str)> = history["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["freight"].as_str().unwrap(),
                p["actor"].as_str().unwrap(),
                p["phase"].as_str().unwrap(),
            )
        })
        .collect();
    let person = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "kargo-cli".into());
    assert_eq!(
        promotions,
        [
            (v1_name.as_str(), person.as_str(), "Succeeded"),
            (v2_name.as_str(), "controller:auto-promotion", "Succeeded"),
            (v1_name.as_str(), "controller:auto-promotion", "Succeeded"),
        ]
    );
    // The smoke test is fixed: verifying dev again lets v2 on to staging.
    std::fs::remove_file(w.path("broken")).unwrap();
    let reverified = w.kargo("11:40", &["verify", "dev"]);
    assert_eq!(reverified.code, 0, "{reverified:?}");
    assert!(reverified.stdout.contains("Successful"), "{reverified:?}");
    w.pass("11:41");
    assert_eq!(w.deployed("staging"), "v2.0.0");
    assert_eq!(w.deployed("prod"), "v1.0.0", "still held");

    // One commit per promotion on the remote: dev v1, staging v1, prod v1,
    // dev v2, prod v2, prod v1, staging v2.
    assert_eq!(
        w.commits(),
        [
            "staging: v2.0.0",
            "prod: v1.0.0",
            "prod: v2.0.0",
            "dev: v2.0.0",
            "prod: v1.0.0",
            "staging: v1.0.0",
            "dev: v1.0.0",
            "seed"
        ]
    );
}

/// Runs `kargo` with `args` over manifests `stages` (plus a Warehouse) and
/// returns stderr, expecting exit 2.
fn unusable(stages: &str) -> String {
    let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], stages);
    let out = w.kargo("10:00", &["pipeline", "--once"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        !w.path("state.db").exists(),
        "nothing is written for unusable input"
    );
    out.stderr
}

fn stage(name: &str, sources: &str) -> String {
    format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {{name: {name}, namespace: demo}}\nspec:\n  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {sources}}}]\n---\n"
    )
}

#[test]
fn bad_manifests_are_refused_with_the_names_at_fault() {
    let cycle = unusable(&format!(
        "{}{}",
        stage("a", "{stages: [b]}"),
        stage("b", "{stages: [a]}")
    ));
    assert!(cycle.contains("cycle"), "{cycle}");
    assert!(cycle.contains('a') && cycle.contains('b'), "{cycle}");

    let unknown_stage = unusable(&stage("qa", "{stages: [nowhere]}"));
    assert!(unknown_stage.contains("nowhere"), "{unknown_stage}");
    assert!(unknown_stage.contains("qa"), "{unknown_stage}");

    let unknown_warehouse =
        unusable(&stage("qa", "{direct: true}").replace("name: app}", "name: ghost}"));
    assert!(unknown_warehouse.contains("ghost"), "{unknown_warehouse}");

    let bad_duration = unusable(&stage("qa", "{stages: [dev], requiredSoakTime: soon}"));
    assert!(bad_duration.contains(r#"Stage "qa""#), "{bad_duration}");
    assert!(
        bad_duration.contains("invalid duration `soon`"),
        "{bad_duration}"
    );
    assert!(bad_duration.contains("stages.yaml"), "{bad_duration}");

    let unknown_template = unusable(&format!(
        "{}  verification: {{analysisTemplates: [{{name: missing}}]}}\n",
        stage("qa", "{direct: true}").trim_end_matches("---\n")
    ));
    assert!(
        unknown_template.contains("unknown AnalysisTemplate `missing`"),
        "{unknown_template}"
    );
}

#[test]
fn promote_and_approve_name_unknown_stages_and_freight() {
    let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], STAGES);
    let out = w.kargo("10:00", &["promote", "qa"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("unknown Stage `qa`"), "{}", out.stderr);
    let out = w.kargo("10:00", &["promote", "dev", "--freight", "nope"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("unknown Freight `nope`"),
        "{}",
        out.stderr
    );
    let out = w.kargo("10:00", &["approve", "nope", "--stage", "prod"]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = w.kargo("10:00", &["history", "qa"]);
    assert_eq!(out.code, 2, "{out:?}");
}

/// A promotion into dev whose process is killed (SIGKILL) right after
/// each checkpoint, then run again: the end state equals an uninterrupted
/// run's and the remote has one promotion commit.
#[test]
fn a_promotion_killed_at_each_step_boundary_resumes_to_the_same_end() {
    let dev_only = STAGES.split("---").next().unwrap().to_owned();
    let reference = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only);
    reference.pass("10:00");
    let expected_commits = reference.commits();
    assert_eq!(expected_commits, ["dev: v1.0.0", "seed"]);
    let expected_freight = reference.freight_named("10:00", "v1.0.0")["status"].clone();

    // 0: right after the promotion started; 1..=3: between steps; 4: after
    // the final state was saved, before the promotion was finished.
    for crash_at in 0..=4 {
        let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only);
        let killed = w.kargo_env(
            "10:00",
            &["pipeline", "--once"],
            &[("KARGO_CRASH_AFTER_CHECKPOINT", &crash_at.to_string())],
        );
        assert_eq!(
            killed.code, -1,
            "killed by a signal at {crash_at}: {killed:?}"
        );
        let history = w.kargo("10:00", &["history", "dev", "--json"]);
        let history: Value = serde_json::from_str(history.stdout.trim()).unwrap();
        assert_eq!(
            history["promotions"][0]["phase"], "Running",
            "left Running at {crash_at}"
        );

        let resumed = w.pass("10:00");
        assert!(
            resumed.stderr.contains("resuming promotion"),
            "{}",
            resumed.stderr
        );
        assert_eq!(w.commits(), expected_commits, "crash at {crash_at}");
        assert_eq!(w.deployed("dev"), "v1.0.0");
        assert_eq!(
            w.freight_named("10:00", "v1.0.0")["status"],
            expected_freight,
            "crash at {crash_at}"
        );
        let history = w.kargo("10:00", &["history", "dev", "--json"]);
        let history: Value = serde_json::from_str(history.stdout.trim()).unwrap();
        let promotions = history["promotions"].as_array().unwrap();
        assert_eq!(promotions.len(), 1, "crash at {crash_at}");
        assert_eq!(promotions[0]["phase"], "Succeeded");
        let steps: Vec<&str> = promotions[0]["state"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["Succeeded"; 4], "crash at {crash_at}");
    }
}

/// A `steps` verification (an `http` check with a `successExpression`),
/// a promotion that waits on an `http` step, a second one queued behind
/// it, and `kargo abort` of the queued one (at once) and of the waiting
/// one (at the next pass).
#[test]
fn http_verification_waiting_promotions_and_abort() {
    let servers = [
        crate::support::http_server(vec![(200, "{}")]),
        crate::support::http_server(vec![(200, r#"{"healthy": true}"#)]),
        crate::support::http_server(vec![(202, "{}")]),
    ];
    let [ok, health, gate] = servers.each_ref().map(wiremock::MockServer::uri);
    let stages = format!(
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: health, namespace: demo}}
spec:
  args: [{{name: url}}]
  steps:
  - uses: http
    config:
      url: ${{{{ vars.url }}}}
      successExpression: response.status == 200 && response.body.healthy == true
      failureExpression: response.status >= 500
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {{name: web, namespace: demo}}
spec:
  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {{direct: true}}}}]
  promotionTemplate:
    spec:
      steps: [{{uses: http, config: {{url: "{ok}"}}}}]
  verification:
    analysisTemplates: [{{name: health}}]
    args: [{{name: url, value: "{health}/health"}}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {{name: gate, namespace: demo}}
spec:
  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {{direct: true}}}}]
  promotionTemplate:
    spec:
      steps:
      - uses: http
        as: wait
        config:
          url: "{gate}"
          successExpression: response.status == 200
          failureExpression: response.status >= 500
"#
    );
    let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &stages);
    // Auto-promotion for `web` only.
    let project = std::fs::read_to_string(w.path("manifests/project.yaml")).unwrap();
    write(
        w.dir.path(),
        "manifests/project.yaml",
        &project.replace(r#"name: "glob:*""#, "name: web"),
    );

    w.pass("10:00");
    let v1 = w.freight_named("10:00", "v1.0.0");
    assert_eq!(keys(&v1["status"]["currentlyIn"]), ["web"]);
    assert_eq!(
        keys(&v1["status"]["verifiedIn"]),
        ["web"],
        "the http check passed"
    );

    let first = w.kargo("10:01", &["promote", "gate", "--json"]);
    assert_eq!(first.code, 3, "waits: {first:?}");
    assert_eq!(first.json()["phase"], "Running");
    let running = first.json()["promotion"].as_str().unwrap().to_owned();
    // Asked again, the person's promotion resumes instead of queueing a
    // duplicate.
    let again = w.kargo("10:02", &["promote", "gate", "--json"]);
    assert_eq!(again.code, 3, "still waits: {again:?}");
    assert_eq!(again.json()["promotion"], running.as_str());
    assert_eq!(again.json()["phase"], "Running");

    // Other Freight queues behind it.
    layout_with_tags(
        &w.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v1.1.0", "2026-01-02T00:00:00Z"),
        ],
    );
    w.pass("10:02");
    let v11 = w.freight_named("10:02", "v1.1.0");
    let alias = v11["alias"].as_str().unwrap();
    let second = w.kargo("10:02", &["promote", "gate", "--freight", alias, "--json"]);
    assert_eq!(second.code, 3, "queued behind the first: {second:?}");
    assert_eq!(second.json()["phase"], "Pending");
    let queued = second.json()["promotion"].as_str().unwrap().to_owned();

    let aborted = w.kargo("10:03", &["abort", &queued]);
    assert_eq!(aborted.code, 0, "{aborted:?}");
    assert!(aborted.stdout.contains("Aborted"), "{}", aborted.stdout);
    // The waiting one is asked to stop; the next pass ends it without
    // polling its step again.
    let asked = w.kargo("10:03", &["abort", &running]);
    assert_eq!(asked.code, 0, "{asked:?}");
    assert!(asked.stdout.contains("Running"), "{}", asked.stdout);
    w.pass("10:04");
    let refused = w.kargo("10:04", &["abort", &running]);
    assert_eq!(
        refused.code, 0,
        "aborting twice changes nothing: {refused:?}"
    );
    let history = w.kargo("10:04", &["history", "gate", "--json"]);
    let history: Value = serde_json::from_str(history.stdout.trim()).unwrap();
    let phases: Vec<&str> = history["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["Aborted", "Aborted"]);
}

/// Starts `kargo pipeline ARGS` in the background on `w`.
fn spawn_pipeline(w: &World, args: &[&str]) -> std::process::Child {
    Command::new(kargo_bin())
        .arg("pipeline")
        .args(args)
        .arg("--manifests")
        .arg(w.path("manifests"))
        .arg("--state")
        .arg(w.path("state.db"))
        .env("KARGO_GIT_CACHE", w.path("git-cache"))
        .env_remove("KARGO_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `done` holds, failing when `child` exits first.
fn wait_until(child: &mut std::process::Child, what: &str, done: impl Fn() -> bool) {
    // The poll count only keeps a broken build from hanging the test.
    let mut polls = 0;
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("kargo pipeline exited early ({status}) before {what}");
        }
        polls += 1;
        assert!(polls < 1200, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Sends `signal` to `child` and returns its exit code and stderr.
fn stop(child: std::process::Child, signal: rustix::process::Signal) -> (Option<i32>, String) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kargo pipeline` without `--once` loops until Ctrl-C (SIGINT) or
/// SIGTERM, then exits 0.
#[test]
fn the_pipeline_loop_stops_cleanly_on_ctrl_c_and_sigterm() {
    use rustix::process::Signal;
    let dev_only = STAGES.split("---").next().unwrap().to_owned();
    for signal in [Signal::INT, Signal::TERM] {
        let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only);
        let mut child = spawn_pipeline(&w, &["--interval", "1"]);
        wait_until(&mut child, "the first pass pushed", || {
            w.commits().len() >= 2
        });
        let (code, stderr) = stop(child, signal);
        assert_eq!(code, Some(0), "{signal:?}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert_eq!(w.deployed("dev"), "v1.0.0");
    }
}

/// A slow custom step: counts its runs, says it started, takes a while.
fn slow_step(w: &World) -> PathBuf {
    let script = write(
        w.dir.path(),
        "steps/slow.sh",
        &format!(
            "#!/bin/sh\nset -eu\necho run >> {runs}\ntouch {started}\nsleep 2\nprintf '{{\"outputs\": {{}}}}' > \"$KARGO_OUTPUT\"\n",
            runs = w.path("runs").display(),
            started = w.path("started").display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    write(
        w.dir.path(),
        "steps/custom-steps.yaml",
        "steps:\n- name: slow\n  command: [./slow.sh]\n  timeout: 60s\n",
    )
}

/// SIGTERM during a step lets the step finish, saves the promotion and
/// exits 0; the next start resumes the promotion after that step, which
/// ran once. Every pipeline command takes `--custom-steps`.
#[test]
fn sigterm_stops_at_the_step_boundary_and_the_next_start_resumes() {
    let w = World::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{uses: slow, as: first}, {uses: slow, as: second}]
"#,
    );
    let declarations = slow_step(&w);
    let custom = declarations.to_str().unwrap();
    let mut child = spawn_pipeline(&w, &["--interval", "1", "--custom-steps", custom]);
    wait_until(&mut child, "the first step started", || {
        w.path("started").exists()
    });
    let (code, stderr) = stop(child, rustix::process::Signal::TERM);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("step boundary"), "{stderr}");

    let history = w.kargo(
        "10:00",
        &["history", "dev", "--json", "--custom-steps", custom],
    );
    assert_eq!(history.code, 0, "{history:?}");
    let promotion = history.json()["promotions"][0].clone();
    assert_eq!(promotion["phase"], "Running", "{promotion}");
    assert_eq!(
        promotion["state"]["currentStep"], 1,
        "the first step finished: {promotion}"
    );

    let resumed = w.kargo("10:01", &["pipeline", "--once", "--custom-steps", custom]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(
        resumed.stderr.contains("resuming promotion"),
        "{}",
        resumed.stderr
    );
    let history = w.kargo(
        "10:02",
        &["history", "dev", "--json", "--custom-steps", custom],
    );
    assert_eq!(history.json()["promotions"][0]["phase"], "Succeeded");
    let runs = std::fs::read_to_string(w.path("runs")).unwrap();
    assert_eq!(runs.lines().count(), 2, "each step ran once");
}

/// Progress goes to stderr with timestamps and no colour codes when stderr
/// is not a terminal, or as JSON lines with `--log-format json`.
#[test]
fn progress_is_logged_with_timestamps_or_as_json_lines() {
    let dev_only = STAGES.split("---").next().unwrap().to_owned();
    let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only);
    let text = w.kargo("10:00", &["pipeline", "--once"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        !text.stderr.contains('\u{1b}'),
        "no colour codes: {}",
        text.stderr
    );
    let started = text
        .stderr
        .lines()
        .find(|l| l.contains("step started"))
        .unwrap_or_else(|| panic!("{}", text.stderr));
    assert!(started.starts_with("20"), "a timestamp first: {started}");
    for needle in ["new Freight", "task-1::push", "Succeeded", "verification"] {
        assert!(text.stderr.contains(needle), "{needle}: {}", text.stderr);
    }

    std::fs::remove_file(w.path("state.db")).unwrap();
    let json = w.kargo("10:00", &["pipeline", "--once", "--log-format", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let lines: Vec<Value> = json
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("promotion"))),
        "{}",
        json.stderr
    );
    assert!(lines.iter().all(|l| l["timestamp"].is_string()));
}

/// A Warehouse whose discovery fails makes `pipeline --once` exit 1; the
/// failure is kept and shown by `status` and `freight`.
#[test]
fn a_failed_discovery_fails_the_pass_and_is_shown_by_status_and_freight() {
    let dev_only = STAGES.split("---").next().unwrap().to_owned();
    let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only);
    std::fs::remove_dir_all(&w.layout).unwrap();
    let out = w.kargo("10:00", &["pipeline", "--once"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("Warehouse app: discovery failed"),
        "{}",
        out.stderr
    );
    let status = w.kargo("10:01", &["status"]);
    assert_eq!(status.code, 0, "{status:?}");
    let line = status
        .stdout
        .lines()
        .find(|l| l.starts_with("app "))
        .unwrap_or_else(|| panic!("{}", status.stdout));
    assert!(line.contains("failing (1x)"), "{line}");
    let freight = w.kargo("10:01", &["freight", "--json"]);
    assert_eq!(freight.code, 0, "{freight:?}");
    assert_eq!(freight.stdout.trim(), "[]");
    assert!(
        freight.stderr.contains("Warehouse app: discovery failing"),
        "{}",
        freight.stderr
    );
}

/// `kargo status` tells why the last promotion failed and where each
/// Stage's Freight comes from, in the table and in JSON.
#[test]
fn status_shows_why_the_last_promotion_failed_and_each_stages_upstream() {
    let w = World::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{uses: fail, config: {message: "the change window is closed"}}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: staging, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {stages: [dev]}}]
  promotionTemplate:
    spec:
      steps: [{uses: fail}]
"#,
    );
    w.pass("10:00");
    let table = w.kargo("10:01", &["status"]);
    assert_eq!(table.code, 0, "{table:?}");
    let dev = table
        .stdout
        .lines()
        .find(|l| l.starts_with("dev "))
        .unwrap();
    assert!(dev.contains("warehouse:app"), "{dev}");
    assert!(dev.contains("Failed"), "{dev}");
    assert!(dev.contains("the change window is closed"), "{dev}");
    let staging = table
        .stdout
        .lines()
        .find(|l| l.starts_with("staging "))
        .unwrap();
    assert!(
        staging.split_whitespace().nth(1) == Some("dev"),
        "{staging}"
    );
    let json = w.kargo("10:01", &["status", "--json"]);
    let dev = json.json()[0].clone();
    assert_eq!(dev["upstream"], serde_json::json!(["warehouse:app"]));
    assert_eq!(dev["lastPromotion"]["phase"], "Failed");
    assert!(
        dev["lastPromotion"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("the change window is closed")),
        "{dev}"
    );
}

/// The read-only commands refuse a state file that does not exist rather
/// than create an empty one.
#[test]
fn read_only_commands_refuse_a_state_file_that_does_not_exist() {
    let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], STAGES);
    for args in [&["status"][..], &["freight"], &["history", "dev"]] {
        let out = w.kargo("10:00", args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains("state database"), "{}", out.stderr);
        assert!(
            !w.path("state.db").exists(),
            "{args:?} created the state file"
        );
    }
}

/// A Stage without promotion steps passes Freight on: dev → gate → prod
/// in one pass, with the Freight verified in the gate.
#[test]
fn a_stage_without_steps_passes_freight_on() {
    let dev = STAGES.split("---").next().unwrap();
    let stages = format!(
        r#"{dev}---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {{name: gate, namespace: demo}}
spec:
  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {{stages: [dev]}}}}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {{name: prod, namespace: demo}}
spec:
  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {{stages: [gate]}}}}]
  promotionTemplate:
    spec:
      steps: [{{task: {{name: set-tag}}, vars: [{{name: env, value: prod}}]}}]
"#
    );
    let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &stages);
    w.pass("10:00");
    assert_eq!(w.deployed("prod"), "v1.0.0");
    let v1 = w.freight_named("10:00", "v1.0.0");
    assert_eq!(keys(&v1["status"]["verifiedIn"]), ["dev", "gate", "prod"]);
    assert_eq!(keys(&v1["status"]["currentlyIn"]), ["dev", "prod"]);
}

/// A custom step `gated` that counts its runs, says it started, and
/// finishes once the file `go` exists.
fn gated_step(w: &World) -> PathBuf {
    let script = write(
        w.dir.path(),
        "steps/gated.sh",
        &format!(
            "#!/bin/sh\nset -eu\necho run >> {runs}\ntouch {started}\ni=0\nwhile [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\nprintf '{{\"outputs\": {{}}}}' > \"$KARGO_OUTPUT\"\n",
            runs = w.path("runs").display(),
            started = w.path("started").display(),
            go = w.path("go").display(),
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    write(
        w.dir.path(),
        "steps/custom-steps.yaml",
        "steps:\n- name: gated\n  command: [./gated.sh]\n  timeout: 90s\n",
    )
}

/// Two `kargo` processes on one SQLite state file (issue 21, item 7):
/// while a pipeline runs a promotion, a second `pipeline --once` and a
/// person's `promote` of the same Freight leave it to the process running
/// it (`promote` says it is Running and exits 3); each step runs once and
/// the Stage's history holds one promotion.
#[test]
fn a_second_process_on_the_sqlite_file_leaves_a_running_promotion_to_the_first() {
    let w = World::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{uses: gated, as: first}, {uses: gated, as: second}]
"#,
    );
    let declarations = gated_step(&w);
    let custom = declarations.to_str().unwrap();
    let mut child = spawn_pipeline(&w, &["--once", "--custom-steps", custom]);
    wait_until(&mut child, "the first step started", || {
        w.path("started").exists()
    });

    let second = w.kargo("10:00", &["pipeline", "--once", "--custom-steps", custom]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        !second.stderr.contains("resuming promotion"),
        "the second process left it alone: {}",
        second.stderr
    );
    let promote = w.kargo(
        "10:00",
        &["promote", "dev", "--json", "--custom-steps", custom],
    );
    assert_eq!(promote.code, 3, "another process runs it: {promote:?}");
    assert_eq!(promote.json()["phase"], "Running", "{promote:?}");

    write(w.dir.path(), "go", "");
    let first = child.wait_with_output().unwrap();
    assert!(first.status.success(), "{first:?}");
    let runs = std::fs::read_to_string(w.path("runs")).unwrap();
    assert_eq!(runs.lines().count(), 2, "each step ran once");
    let history = w.kargo(
        "10:01",
        &["history", "dev", "--json", "--custom-steps", custom],
    );
    let promotions = history.json()["promotions"].as_array().unwrap().clone();
    assert_eq!(promotions.len(), 1, "{promotions:?}");
    assert_eq!(promotions[0]["phase"], "Succeeded");
}

/// dev with one `gated` step; the image has the tag v1.0.0.
fn gated_world() -> World {
    World::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{uses: gated, as: gate}]
"#,
    )
}

/// The name of the Freight tagged v1.0.0 (the manifests need `custom`).
fn v1_name(w: &World, custom: &str) -> String {
    let out = w.kargo("10:00", &["freight", "--json", "--custom-steps", custom]);
    assert_eq!(out.code, 0, "{out:?}");
    let all: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let v1 = all
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["images"][0]["tag"] == "v1.0.0");
    v1.unwrap()["metadata"]["name"].as_str().unwrap().to_owned()
}

/// The phases of dev's promotions, oldest first.
fn dev_phases(w: &World, custom: &str) -> Vec<String> {
    let history = w.kargo(
        "10:00",
        &["history", "dev", "--json", "--custom-steps", custom],
    );
    assert_eq!(history.code, 0, "{history:?}");
    let mut phases: Vec<(String, String)> = history.json()["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["phase"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    phases.sort();
    phases.into_iter().map(|(_, phase)| phase).collect()
}

/// A person's `kargo promote` while a `kargo pipeline` loop (another
/// process, passes an hour apart) runs the Stage's queue (issue 21): the
/// promotion is queued there, `promote` returns at once saying so (exit
/// 3, `Pending`), and the loop runs it right after the one it is running,
/// not on its next pass.
#[test]
fn a_promote_while_a_pipeline_loop_runs_the_stage_is_queued_there_and_run_in_turn() {
    let w = gated_world();
    let declarations = gated_step(&w);
    let custom = declarations.to_str().unwrap();
    // v1 into dev first (discovered in the past, so the loop discovers
    // again at once); then v2 comes, and the loop's auto-promotion of it
    // waits at the gate.
    write(w.dir.path(), "go", "");
    let first = w.kargo("10:00", &["pipeline", "--once", "--custom-steps", custom]);
    assert_eq!(first.code, 0, "{first:?}");
    std::fs::remove_file(w.path("go")).unwrap();
    std::fs::remove_file(w.path("started")).unwrap();
    layout_with_tags(
        &w.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
    );
    let mut child = spawn_pipeline(&w, &["--interval", "3600", "--custom-steps", custom]);
    wait_until(&mut child, "the auto-promotion of v2 started", || {
        w.path("started").exists()
    });
    let v1 = v1_name(&w, custom);
    let v1 = v1.as_str();

    let promote = w.kargo(
        "10:00",
        &[
            "promote",
            "dev",
            "--freight",
            v1,
            "--json",
            "--custom-steps",
            custom,
        ],
    );
    assert_eq!(promote.code, 3, "{promote:?}");
    assert_eq!(promote.json()["phase"], "Pending", "{promote:?}");
    assert!(
        promote.stderr.contains("is queued: another kargo process"),
        "{}",
        promote.stderr
    );

    write(w.dir.path(), "go", "");
    wait_until(&mut child, "both promotions finished", || {
        dev_phases(&w, custom) == ["Succeeded", "Succeeded", "Succeeded"]
    });
    let runs = std::fs::read_to_string(w.path("runs")).unwrap();
    assert_eq!(runs.lines().count(), 3, "each promotion ran its step once");
    let (code, stderr) = stop(child, rustix::process::Signal::TERM);
    assert_eq!(code, Some(0), "{stderr}");
}

/// A person's `kargo promote` while a `kargo pipeline` loop shares the
/// state file but sleeps between passes: the Stage's lock is free, so
/// `promote` runs the promotion itself at once and reports how it ended.
#[test]
fn a_promote_while_a_pipeline_loop_sleeps_runs_the_promotion_itself() {
    let w = gated_world();
    let declarations = gated_step(&w);
    let custom = declarations.to_str().unwrap();
    write(w.dir.path(), "go", "");
    let mut child = spawn_pipeline(&w, &["--interval", "3600", "--custom-steps", custom]);
    wait_until(&mut child, "the auto-promotion of v1 finished", || {
        w.path("state.db").exists() && dev_phases(&w, custom) == ["Succeeded"]
    });
    let v1 = v1_name(&w, custom);
    let v1 = v1.as_str();
    let promote = w.kargo(
        "10:00",
        &[
            "promote",
            "dev",
            "--freight",
            v1,
            "--json",
            "--custom-steps",
            custom,
        ],
    );
    assert_eq!(promote.code, 0, "{promote:?}");
    assert_eq!(promote.json()["phase"], "Succeeded");
    assert!(
        !promote.stderr.contains("another kargo process"),
        "{}",
        promote.stderr
    );
    assert_eq!(dev_phases(&w, custom), ["Succeeded", "Succeeded"]);
    let (code, stderr) = stop(child, rustix::process::Signal::TERM);
    assert_eq!(code, Some(0), "{stderr}");
}

/// Four `kargo pipeline --once` started together on a state file that
/// does not exist yet (issue 21, item 7): the file is created and
/// migrated once, the Freight discovered once, and dev promoted once;
/// every process exits 0.
#[test]
fn four_pipelines_started_together_on_a_new_sqlite_file_promote_once() {
    let dev_only = STAGES.split("---").next().unwrap().to_owned();
    for trial in 0..3 {
        let w = World::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], &dev_only);
        let children: Vec<_> = (0..4).map(|_| spawn_pipeline(&w, &["--once"])).collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "trial {trial}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(w.commits(), ["dev: v1.0.0", "seed"], "trial {trial}");
        let history = w.kargo("10:00", &["history", "dev", "--json"]);
        let promotions = history.json()["promotions"].as_array().unwrap().clone();
        assert_eq!(promotions.len(), 1, "trial {trial}: {promotions:?}");
        assert_eq!(promotions[0]["phase"], "Succeeded", "trial {trial}");
        assert_eq!(w.freight("10:00").len(), 1, "trial {trial}");
    }
}
