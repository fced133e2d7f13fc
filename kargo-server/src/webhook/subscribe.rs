//! Which Warehouses a refresh concerns.

use kargo_core::model::{SubscriptionSource, Warehouse};
use kargo_core::urls::{normalize_chart, normalize_git, normalize_image};

/// Whether `warehouse` has a Git, image or chart subscription to
/// `repo_url`: the subscription's URL, normalised as Kargo normalises it
/// for its `subscribedURLs` index (Git, image or chart form, after the
/// subscription's kind), equals `repo_url` as given (the normalised URLs
/// of [`Delivery::Refresh`](super::Delivery::Refresh)) or normalised the
/// same way (a URL as written in a payload or a manifest).
///
/// Only the repository is compared: a subscription whose branch, tag
/// filters or paths would not select what was pushed still counts (see the
/// [module docs](super)). Generic subscriptions never do.
///
/// ```
/// use kargo_core::model::Warehouse;
/// use kargo_server::webhook::warehouse_subscribes;
///
/// let warehouse: Warehouse = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "w", "namespace": "demo"},
///     "spec": {"subscriptions": [{"git": {"repoURL": "https://github.com/Acme/Demo.git"}}]},
/// }))
/// .unwrap();
/// assert!(warehouse_subscribes(&warehouse, "https://github.com/acme/demo"));
/// assert!(!warehouse_subscribes(&warehouse, "https://github.com/acme/other"));
/// ```
pub fn warehouse_subscribes(warehouse: &Warehouse, repo_url: &str) -> bool {
    if repo_url.is_empty() {
        return false;
    }
    warehouse.spec.subscriptions.iter().any(|sub| {
        subscribed_url(&sub.source).is_some_and(|(subscribed, normalize)| {
            subscribed == repo_url || subscribed == normalize(repo_url)
        })
    })
}

/// The Warehouse's entries in Kargo's `subscribedURLs` index: each Git,
/// image or chart subscription's URL, normalised after its kind, sorted,
/// without duplicates.
pub(super) fn subscribed_urls(warehouse: &Warehouse) -> Vec<String> {
    let mut urls: Vec<String> = warehouse
        .spec
        .subscriptions
        .iter()
        .filter_map(|sub| subscribed_url(&sub.source).map(|(url, _)| url))
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// A subscription's normalised URL and the normaliser of its kind; `None`
/// for generic subscriptions and empty URLs.
fn subscribed_url(source: &SubscriptionSource) -> Option<(String, fn(&str) -> String)> {
    let (subscribed, normalize): (&str, fn(&str) -> String) = match source {
        SubscriptionSource::Git(git) => (&git.repo_url, normalize_git),
        SubscriptionSource::Image(image) => (&image.repo_url, normalize_image),
        SubscriptionSource::Chart(chart) => (&chart.repo_url, normalize_chart),
        SubscriptionSource::Generic(_) => return None,
    };
    if subscribed.is_empty() {
        return None;
    }
    Some((normalize(subscribed), normalize))
}
