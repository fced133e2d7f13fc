//! The [`Source`] contract, checked against a subscription the caller
//! prepared (its repository seeded with known content).
//!
//! ```ignore
//! kargo_sources::conformance::source::all(&source, &Case { .. }).await;
//! ```

use kargo_core::model::RepoSubscription;

use crate::source::{DiscoverOptions, Discovered, DynSource, SourceExt};

/// A subscription and what the source must find for it.
#[derive(Debug, Clone)]
pub struct Case {
    /// A subscription of a type the source handles.
    pub subscription: RepoSubscription,
    /// How many artifacts it must find (its limit already applied).
    pub expected_len: usize,
    /// The version of the newest one: an image tag, an artifact or chart
    /// version, a commit's tag (or its id when it has none).
    pub expected_latest: String,
    /// A subscription of a type the source does not handle.
    pub foreign: RepoSubscription,
}

fn version_of(found: &Discovered, i: usize) -> Option<String> {
    match found {
        Discovered::Images(d) => d.references.get(i).map(|r| r.tag.clone()),
        Discovered::Artifacts(d) => d.artifact_references.get(i).map(|r| r.version.clone()),
        Discovered::Charts(d) => d.versions.get(i).cloned(),
        Discovered::Commits(d) => d.commits.get(i).map(|c| {
            if c.tag.is_empty() {
                c.id.clone()
            } else {
                c.tag.clone()
            }
        }),
    }
}

/// Runs every check.
pub async fn all(source: &DynSource, case: &Case) {
    declares_what_it_handles(source, case);
    discovers_newest_first_within_the_limit(source, case).await;
    latest_is_the_first_discovered(source, case).await;
    rejects_foreign_subscriptions(source, case).await;
    discovery_is_repeatable(source, case).await;
}

/// `capabilities()` names the case's subscription type, not the foreign one.
pub fn declares_what_it_handles(source: &DynSource, case: &Case) {
    let caps = source.capabilities();
    assert!(caps.handles(&case.subscription), "{caps:?}");
    assert!(!caps.handles(&case.foreign), "{caps:?}");
}

/// `discover` finds the expected number, newest first, within the limit.
pub async fn discovers_newest_first_within_the_limit(source: &DynSource, case: &Case) {
    let found = source
        .discover(&case.subscription, DiscoverOptions::default())
        .await
        .expect("discovery succeeds");
    assert_eq!(found.len(), case.expected_len, "{found:?}");
    assert_eq!(
        version_of(&found, 0).as_deref(),
        Some(case.expected_latest.as_str())
    );
}

/// `SourceExt::latest` is the first discovered artifact.
pub async fn latest_is_the_first_discovered(source: &DynSource, case: &Case) {
    let found = source
        .discover(&case.subscription, DiscoverOptions::default())
        .await
        .expect("discovery succeeds");
    let latest = source
        .latest(&case.subscription)
        .await
        .expect("latest succeeds");
    assert_eq!(latest, found.latest());
}

/// A subscription of another type is `Unsupported`.
pub async fn rejects_foreign_subscriptions(source: &DynSource, case: &Case) {
    let err = source
        .discover(&case.foreign, DiscoverOptions::default())
        .await
        .expect_err("foreign subscription");
    assert!(
        matches!(err, kargo_core::Error::Unsupported { .. }),
        "{err:?}"
    );
}

/// Two discoveries of unchanged content agree (caches change nothing).
pub async fn discovery_is_repeatable(source: &DynSource, case: &Case) {
    let a = source
        .discover(&case.subscription, DiscoverOptions::default())
        .await
        .expect("first discovery");
    let b = source
        .discover(&case.subscription, DiscoverOptions::default())
        .await
        .expect("second discovery");
    assert_eq!(a, b);
}
