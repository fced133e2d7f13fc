//! `kargo pipeline --once` killed with SIGKILL at random instants over a
//! promotion that clones, edits, commits and pushes (issue 21, item 1):
//! sometimes only the runner's PID (its `git` children live on as
//! orphans, which the next runs meet, or which die a moment later),
//! sometimes its whole process group. After the kills of a
//! round, the same command run again must succeed, and the remote must
//! hold each promotion's commit exactly once.
//!
//! The remote is served over smart HTTP, so the server's side of a push
//! lives outside the runner's process group, as a real remote does (a
//! `file://` remote's `git-receive-pack` would be killed with the group
//! and leave its ref lock behind in the remote).
//!
//! The instants come from a seeded RNG. `KARGO_KILL_SEED` replays a
//! failure (the failing seed, round and kills are printed);
//! `KARGO_KILL_COUNT` asks for more kills than the suite's 50, e.g.
//! `KARGO_KILL_COUNT=1000 cargo test -p kargo-cli --test it kill_`.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kargo_core::time::Timestamp;
use kargo_test_support::{PipelineWorld, STAGES, layout_with_tags};
use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use serde_json::Value;

use crate::support::{credential_secret, kargo_bin, write};
use kargo_test_support::git_server::HttpServer;

/// The seed the suite runs with.
const DEFAULT_SEED: u64 = 21;
/// The kills the suite makes.
const DEFAULT_KILLS: usize = 50;

/// Round `round` runs at minute `round` of 2026 (auto-promotion takes
/// the Freight discovered last).
fn spawn(w: &PipelineWorld, round: usize, log: &Path) -> Child {
    let now = format!(
        "2026-01-{:02}T{:02}:{:02}:00Z",
        1 + round / 1440,
        round % 1440 / 60,
        round % 60
    );
    Command::new(kargo_bin())
        .args(["pipeline", "--once", "--manifests"])
        .arg(w.manifests())
        .arg("--state")
        .arg(w.path("state.db"))
        .arg("--credentials")
        .arg(w.path("creds.yaml"))
        .current_dir(w.dir.path())
        .env("KARGO_NOW", now)
        .env("KARGO_GIT_CACHE", w.path("git-cache"))
        .env_remove("KARGO_LOG")
        .env_remove("KARGO_CRASH_AFTER_CHECKPOINT")
        .stdin(Stdio::null())
        .stdout(File::create(log.with_extension("out")).unwrap())
        .stderr(File::create(log.with_extension("err")).unwrap())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// Kills every process left in `child`'s group (orphans of a PID kill).
fn reap_group(child: &Child) {
    let group = Pid::from_raw(child.id() as i32).unwrap();
    // ESRCH when the group is gone already.
    let _ = kill_process_group(group, Signal::KILL);
}

/// `kargo` run to its end: its exit code and stderr, and when (after its
/// start) it started a promotion and when it ended, if it ran a whole one.
fn run_to_end(
    w: &PipelineWorld,
    round: usize,
    log: &Path,
) -> (Option<i32>, String, Option<Window>) {
    let spawned = Timestamp::now();
    let mut child = spawn(w, round, log);
    let status = child.wait().unwrap();
    reap_group(&child);
    let stderr = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
    let window = Window::of(spawned, &stderr);
    (status.code(), stderr, window)
}

/// Where in a run its promotion ran, after the process started.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Duration,
    end: Duration,
}

impl Window {
    /// From the log lines' times: a promotion `started` (not resumed)
    /// to the run's last line.
    fn of(spawned: Timestamp, stderr: &str) -> Option<Window> {
        let at = |line: &str| -> Option<Duration> {
            let t: Timestamp = line.split_whitespace().next()?.parse().ok()?;
            Some(Duration::from_millis(
                u64::try_from(t.unix_millis() - spawned.unix_millis()).ok()?,
            ))
        };
        let started = stderr
            .lines()
            .find(|l| l.contains(" started stage="))
            .and_then(at)?;
        let end = stderr.lines().last().and_then(at)?;
        Some(Window {
            start: started,
            end,
        })
    }

    /// A random instant: three times in four within the promotion, else
    /// anywhere from the start of the process to a little after its end.
    fn draw(&self, rng: &mut fastrand::Rng) -> Duration {
        if rng.u8(0..4) < 3 {
            self.start + (self.end - self.start).mul_f64(rng.f64() * 1.1)
        } else {
            self.end.mul_f64(rng.f64() * 1.2)
        }
    }
}

/// How a run is killed, and what happens to its orphans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// `kill -9 PID`: the runner only; a `git` it started goes on, and the
    /// next run meets it.
    Pid,
    /// `kill -9 PID`, and the runner's orphans are killed too, a moment
    /// later, before the next run.
    PidThenOrphans,
    /// `kill -9 -PGID`: the runner and every process it started at once.
    Group,
}

/// `kargo` killed `after` its start, the way `how` says; its exit code
/// and process group (holding any orphans still running).
fn run_killed(
    w: &PipelineWorld,
    round: usize,
    log: &Path,
    after: Duration,
    how: Kill,
) -> (Option<i32>, Child) {
    let mut child = spawn(w, round, log);
    std::thread::sleep(after);
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    // ESRCH when it finished before the instant: a kill after the end.
    let _ = match how {
        Kill::Pid | Kill::PidThenOrphans => kill_process(pid, Signal::KILL),
        Kill::Group => kill_process_group(pid, Signal::KILL),
    };
    let status = child.wait().unwrap();
    if how == Kill::PidThenOrphans {
        // Orphans go on for a moment, as after a real crash.
        std::thread::sleep(after / 4);
        reap_group(&child);
    }
    (status.code(), child)
}

/// Removes the world's directory unless `KARGO_KILL_KEEP` is set (then
/// it is printed, with the runs' logs in `logs/`).
struct Cleanup<'a>(&'a tempfile::TempDir);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if std::env::var_os("KARGO_KILL_KEEP").is_some() {
            eprintln!("kept {}", self.0.path().display());
        } else {
            let _ = std::fs::remove_dir_all(self.0.path());
        }
    }
}

/// The stderr of round `round`'s killed runs.
fn killed_logs(logs: &Path, round: usize) -> String {
    (0..3)
        .filter_map(|k| {
            let err = logs.join(format!("r{round}-k{k}.err"));
            let text = std::fs::read_to_string(err).ok()?;
            Some(format!("killed run {k}'s stderr:\n{text}"))
        })
        .collect()
}

/// The remote's commit subjects, newest first.
fn subjects(w: &PipelineWorld) -> Vec<String> {
    w.commits()
}

/// `kargo history dev --json`'s promotions: (Freight, phase).
fn history(w: &PipelineWorld) -> Vec<(String, String)> {
    let out = Command::new(kargo_bin())
        .args(["history", "dev", "--json", "--manifests"])
        .arg(w.manifests())
        .arg("--state")
        .arg(w.path("state.db"))
        .env_remove("KARGO_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["freight"].as_str().unwrap().to_owned(),
                p["phase"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The tags v1 … v`n`, one day apart.
fn tags(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            (
                format!("v{i}.0.0"),
                format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
            )
        })
        .collect()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Kills at random instants, each round promoting a new tag into dev
/// (git-clone, yaml-update, git-commit, git-push, then dev's
/// verification): one to three kills, then a run to the end that must
/// succeed, leaving the round's commit on the remote exactly once and a
/// history of Succeeded promotions, one per tag.
#[test]
fn kill_9_at_random_instants_then_the_rerun_succeeds_and_pushes_once() {
    let seed: u64 = env_or("KARGO_KILL_SEED", DEFAULT_SEED);
    let kills_wanted: usize = env_or("KARGO_KILL_COUNT", DEFAULT_KILLS);
    let mut rng = fastrand::Rng::with_seed(seed);
    let tags = tags(kills_wanted + 1);
    let as_refs = |n: usize| -> Vec<(&str, &str)> {
        tags[..n]
            .iter()
            .map(|(t, c)| (t.as_str(), c.as_str()))
            .collect()
    };
    let dev_only = STAGES.split("---").next().unwrap().to_owned();
    let w = std::mem::ManuallyDrop::new(PipelineWorld::new(&as_refs(1), &dev_only));
    let _cleanup = Cleanup(&w.dir);
    let logs = w.path("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let server = HttpServer::start(w.dir.path(), "kargo", "t0ps3cret");
    let url = server.url("config");
    let project = std::fs::read_to_string(w.path("manifests/project.yaml")).unwrap();
    let file_url = format!("file://{}", w.bare.display());
    assert!(project.contains(&file_url), "{project}");
    write(
        w.dir.path(),
        "manifests/project.yaml",
        &project.replace(&file_url, &url),
    );
    credential_secret(w.dir.path(), "creds.yaml", "git", &url);

    // An uninterrupted first pass (v1) gives the span the instants are
    // drawn from: the start of the process to a little after its end.
    let started = Instant::now();
    let (code, stderr, window) = run_to_end(&w, 1, &logs.join("r1-final"));
    assert_eq!(code, Some(0), "the first pass: {stderr}");
    let mut window = window.unwrap_or_else(|| panic!("no promotion in {stderr}"));

    let (mut kills, mut reruns, mut round) = (0, 0, 1);
    let mut by_kind = [0usize; 3];
    while kills < kills_wanted {
        round += 1;
        layout_with_tags(&w.layout, &as_refs(round));
        let mut made = Vec::new();
        let mut orphaned = Vec::new();
        for k in 0..rng.usize(1..=3).min(kills_wanted - kills) {
            let after = window.draw(&mut rng);
            let how = [Kill::Pid, Kill::PidThenOrphans, Kill::Group][rng.usize(0..3)];
            let log = logs.join(format!("r{round}-k{k}"));
            let (code, killed) = run_killed(&w, round, &log, after, how);
            made.push(format!("{how:?} after {after:?} (exit {code:?})"));
            by_kind[how as usize] += 1;
            kills += 1;
            orphaned.push(killed);
        }
        let (code, stderr, ran) = run_to_end(&w, round, &logs.join(format!("r{round}-final")));
        reruns += 1;
        orphaned.iter().for_each(reap_group);
        // A rerun that ran a whole promotion is the latest measure of one.
        window = ran.unwrap_or(window);
        let replay = format!(
            "seed {seed} (KARGO_KILL_SEED={seed}), round {round}, kills: {made:?}\n{}rerun's stderr:\n{stderr}",
            killed_logs(&logs, round)
        );
        assert_eq!(code, Some(0), "the rerun failed; {replay}");

        let expected: Vec<String> = (1..=round)
            .rev()
            .map(|i| format!("dev: v{i}.0.0"))
            .chain(["seed".to_owned()])
            .collect();
        assert_eq!(subjects(&w), expected, "the remote's commits; {replay}");
        assert_eq!(w.deployed("dev"), format!("v{round}.0.0"), "{replay}");
    }

    let history = history(&w);
    assert_eq!(history.len(), round, "one promotion per tag: {history:?}");
    let mut freight: Vec<&str> = history.iter().map(|(f, _)| f.as_str()).collect();
    freight.sort_unstable();
    freight.dedup();
    assert_eq!(freight.len(), round, "each tag promoted once: {history:?}");
    assert!(
        history.iter().all(|(_, phase)| phase == "Succeeded"),
        "{history:?}"
    );
    eprintln!(
        "kill test: seed {seed}, {kills} kills ({} of the PID, orphans left to the rerun; {} of the PID, \
         orphans killed a moment later; {} of the group) over {round} promotions, \
         {reruns} reruns all succeeded, {} commits on the remote each once, in {:.1?} \
         (the last promotion ran from {:.1?} to {:.1?} after its process started)",
        by_kind[0],
        by_kind[1],
        by_kind[2],
        round,
        started.elapsed(),
        window.start,
        window.end
    );
}
