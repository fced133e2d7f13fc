//! URL normalization as Kargo does it, for Freight IDs and matching.
//! (Preliminary; the exact rules land with the model work.)

/// Normalizes a Git repository URL.
pub fn normalize_git(url: &str) -> String {
    let mut u = url.trim().to_lowercase();
    if let Some((scheme, rest)) = u.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        u = format!("{scheme}://{rest}");
    }
    let u = u.trim_end_matches('/');
    u.strip_suffix(".git").unwrap_or(u).to_owned()
}

/// Normalizes a chart repository URL.
pub fn normalize_chart(url: &str) -> String {
    let u = url.trim().to_lowercase();
    u.strip_prefix("oci://").map(str::to_owned).unwrap_or(u)
}

/// Joins two URL path pieces like Go's `path.Join`.
pub fn path_join(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.to_owned()
    } else {
        format!("{}/{}", a.trim_end_matches('/'), b)
    }
}
