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
/// filters or paths would not select what was pushed still counts
/// ([`warehouse_wants`] asks those too). Generic subscriptions never do.
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

/// Whether a push to `repo_url` concerns `warehouse`, as Kargo's
/// receivers decide before refreshing it (its `shouldRefresh`): one of the
/// Warehouse's subscriptions to the repository (see
/// [`warehouse_subscribes`]) would select one of `qualifiers` (the pushed
/// refs, image tags or chart versions of a
/// [`Delivery::Refresh`](super::Delivery::Refresh)) and, for Git, one of
/// `changed_paths` passes its path filters. Without qualifiers, any
/// subscription to the repository counts; without changed paths, the path
/// filters are not asked.
///
/// The rules are kargo-sources' selectors' ([`kargo_sources::git::push_matches`],
/// [`kargo_sources::oci::tag_matches`], [`kargo_sources::helm::version_matches`]).
/// A subscription they cannot compile counts (its discovery reports why).
///
/// ```
/// use kargo_core::model::Warehouse;
/// use kargo_server::webhook::warehouse_wants;
///
/// let warehouse: Warehouse = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "w", "namespace": "demo"},
///     "spec": {"subscriptions": [{"git": {
///         "repoURL": "https://github.com/acme/demo.git",
///         "branch": "main",
///         "includePaths": ["apps/web"],
///     }}]},
/// }))
/// .unwrap();
/// let url = "https://github.com/acme/demo";
/// let main = ["refs/heads/main".to_owned()];
/// let web = ["apps/web/values.yaml".to_owned()];
/// assert!(warehouse_wants(&warehouse, url, &main, &web));
/// assert!(!warehouse_wants(&warehouse, url, &["refs/heads/dev".to_owned()], &web));
/// assert!(!warehouse_wants(&warehouse, url, &main, &["README.md".to_owned()]));
/// assert!(warehouse_wants(&warehouse, url, &[], &[]));
/// ```
pub fn warehouse_wants(
    warehouse: &Warehouse,
    repo_url: &str,
    qualifiers: &[String],
    changed_paths: &[String],
) -> bool {
    if qualifiers.is_empty() {
        return warehouse_subscribes(warehouse, repo_url);
    }
    if repo_url.is_empty() {
        return false;
    }
    warehouse.spec.subscriptions.iter().any(|sub| {
        let subscribed = subscribed_url(&sub.source).is_some_and(|(subscribed, normalize)| {
            subscribed == repo_url || subscribed == normalize(repo_url)
        });
        if !subscribed {
            return false;
        }
        let matches = match &sub.source {
            SubscriptionSource::Git(git) => {
                kargo_sources::git::push_matches(git, qualifiers, changed_paths)
                    .map_err(|e| e.to_string())
            }
            SubscriptionSource::Image(image) => {
                kargo_sources::oci::tag_matches(image, qualifiers).map_err(|e| e.to_string())
            }
            SubscriptionSource::Chart(chart) => {
                kargo_sources::helm::version_matches(chart, qualifiers).map_err(|e| e.to_string())
            }
            SubscriptionSource::Generic(_) => Ok(false),
        };
        matches.unwrap_or_else(|error| {
            tracing::warn!(
                warehouse = %warehouse.metadata.name,
                %error,
                "cannot tell whether a webhook's push concerns the Warehouse: refreshing it"
            );
            true
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

/// A URL normaliser of Kargo's: Git, image or chart form.
type Normalizer = fn(&str) -> String;

/// A subscription's normalised URL and the normaliser of its kind; `None`
/// for generic subscriptions and empty URLs.
fn subscribed_url(source: &SubscriptionSource) -> Option<(String, Normalizer)> {
    let (subscribed, normalize): (&str, Normalizer) = match source {
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
