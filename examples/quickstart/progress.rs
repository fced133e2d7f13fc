//! What the demo prints as the controller works: its events, one line per
//! step, and the Freight it made.

use std::sync::Arc;

use kargo::core::model::{Freight, PromotionPhase, StepStatus};
use kargo::core::state::DynStateStore;
use kargo::runtime::{Event, Events};

/// Prints `event`; reads the store for the Freight and promotions it names.
pub(crate) async fn print_event(store: &Arc<DynStateStore>, event: Event) {
    match event {
        Event::FreightCreated { freight, .. } => {
            if let Ok(Some(freight)) = store.get_freight(&freight).await {
                print_freight(&freight);
            }
        }
        Event::DiscoveryFailed { warehouse, message } => {
            println!("Warehouse {warehouse}: discovery failed: {message}");
        }
        Event::FreightApproved {
            freight,
            stage,
            actor,
        } => println!(
            "\nFreight {} approved for {stage} by {actor}",
            short(&freight)
        ),
        Event::PromotionStarted {
            stage,
            promotion,
            resumed,
        } => {
            if resumed {
                println!("\n{stage}: promotion {promotion} resumes");
            } else {
                let actor = match store.get_promotion(&promotion).await {
                    Ok(Some(p)) => p.actor,
                    _ => String::new(),
                };
                println!("\n{stage}: promotion {promotion} (by {actor})");
            }
        }
        Event::StepFinished {
            uses,
            alias,
            status,
            message,
            ..
        } => println!(
            "  {:<9} {:<16} {:<22} {}",
            status_text(status),
            uses,
            alias,
            message
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        ),
        Event::PromotionFinished {
            stage,
            promotion,
            phase,
            message,
            ..
        } => {
            if phase != PromotionPhase::Succeeded {
                println!(
                    "  {stage}: promotion {promotion} {phase}: {}",
                    message.as_deref().unwrap_or("see the steps above")
                );
                return;
            }
            let commit = match store.get_promotion(&promotion).await {
                Ok(Some(p)) => p.state.outputs["publish::commit"]["commit"]
                    .as_str()
                    .map(str::to_owned),
                _ => None,
            };
            if let Some(commit) = commit {
                println!("  main is at {}", short(&commit));
            }
        }
        _ => {}
    }
}

/// Prints what comes on `events` until the controller is gone.
pub(crate) async fn print_events(store: Arc<DynStateStore>, mut events: Events) {
    while let Some(event) = events.next().await {
        print_event(&store, event).await;
    }
}

/// Runs `work` in a task of its own while printing the events that come
/// meanwhile (the store is read for them while `work` goes on), then those
/// that came until it ended.
pub(crate) async fn with_progress<T: Send + 'static>(
    store: &Arc<DynStateStore>,
    events: &mut Events,
    work: impl Future<Output = T> + Send + 'static,
) -> T {
    let mut work = tokio::spawn(work);
    let out = loop {
        tokio::select! {
            biased;
            Some(event) = events.next() => print_event(store, event).await,
            out = &mut work => break out,
        }
    };
    while let Some(event) = events.try_next() {
        print_event(store, event).await;
    }
    match out {
        Ok(out) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Prints Freight with its artifacts.
pub(crate) fn print_freight(freight: &Freight) {
    println!(
        "Freight {} (alias {})",
        freight.metadata.name, freight.alias
    );
    for image in &freight.images {
        println!(
            "  image     guestbook:{} {}",
            image.tag,
            image.digest.get(..19).unwrap_or(&image.digest)
        );
    }
    for artifact in &freight.artifacts {
        println!(
            "  artifact  {} {} ({})",
            artifact.subscription_name, artifact.version, artifact.artifact_type
        );
    }
    for commit in &freight.commits {
        println!(
            "  commit    {} {} (policies/)",
            short(&commit.id),
            commit.message.lines().next().unwrap_or("")
        );
    }
}

/// A section heading.
pub(crate) fn heading(text: &str) {
    println!("\n== {text}");
}

fn status_text(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "ok",
        StepStatus::Skipped => "skipped",
        StepStatus::Running => "waiting",
        StepStatus::Failed => "FAILED",
        StepStatus::Errored => "ERRORED",
        _ => "?",
    }
}

/// The first seven characters of a commit or Freight name.
pub(crate) fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}
