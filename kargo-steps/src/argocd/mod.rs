//! `argocd-update` and `argocd-wait`: Argo CD Applications through Argo
//! CD's REST API (`/api/v1/applications`), where Kargo talks to the
//! Kubernetes API instead.
//!
//! # Configuring the server
//! The steps' configs name Applications only, as Kargo's do; the host says
//! which Argo CD to talk to through [`Options`]:
//!
//! | option | environment (read by [`Options::from_env`], which [`register_builtins`](crate::register_builtins) calls) |
//! |---|---|
//! | `server`: the base URL, `https://argocd.example.com` | `ARGOCD_SERVER` (as the `argocd` CLI; `https://` is assumed without a scheme) |
//! | `token`: a bearer token of an Argo CD account | `ARGOCD_AUTH_TOKEN` (as the `argocd` CLI) |
//! | `namespace`: the Applications' namespace when a config sets none (default `argocd`) | `ARGOCD_NAMESPACE` (as Kargo's controller) |
//! | `insecure_skip_tls_verify` | `ARGOCD_INSECURE=true` |
//!
//! Without a token in the options, the step asks the context's
//! credentials provider for [`CredentialType::Generic`] credentials of the
//! server URL and sends their password as the bearer token. The token never
//! appears in messages, logs or `Debug` output.
//!
//! # Differences from Kargo
//! Argo CD's API server does what Kargo patches into the Application
//! resource: `argocd-update` updates the spec (`PUT …/spec`), asks for a
//! hard refresh (`GET …?refresh=hard`) and starts a sync (`POST …/sync`)
//! whose operation carries the `kargo.akuity.io/promotion` info with the
//! promotion's name, so a later run recognises its own operation. There is
//! no Stage health check registered after the promotion: use
//! `argocd-wait` after `argocd-update` to wait for Healthy and Synced.
//!
//! [`CredentialType::Generic`]: kargo_core::credentials::CredentialType::Generic

mod client;
pub mod update;
pub mod wait;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use update::ArgoCdUpdate;
pub use wait::ArgoCdWait;

/// The namespace of Applications when neither config nor options name one.
pub const DEFAULT_NAMESPACE: &str = "argocd";

/// How long a step waits before looking at an Application again.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// The annotation by which an Application lets Stages update it.
pub const AUTHORIZED_STAGE_ANNOTATION: &str = "kargo.akuity.io/authorized-stage";

/// The operation info naming the promotion that started a sync.
pub const PROMOTION_INFO: &str = "kargo.akuity.io/promotion";

/// Where the Argo CD API server is and how to talk to it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The API server's base URL; unset, the steps fail saying so.
    pub server: Option<String>,
    /// A bearer token; unset, the credentials provider is asked.
    pub token: Option<String>,
    /// The Applications' namespace when a config names none.
    pub namespace: String,
    /// Skip TLS certificate verification of the API server.
    pub insecure_skip_tls_verify: bool,
    /// How long to wait before looking again at an Application that is
    /// not there yet.
    pub poll_interval: Duration,
    /// The time one API request may take.
    pub request_timeout: Duration,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("namespace", &self.namespace)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("poll_interval", &self.poll_interval)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server: None,
            token: None,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            insecure_skip_tls_verify: false,
            poll_interval: DEFAULT_POLL_INTERVAL,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl Options {
    /// Options for the API server at `server` (a base URL).
    pub fn new(server: impl Into<String>) -> Self {
        Options::default().with_server(server)
    }

    /// Options from `ARGOCD_SERVER`, `ARGOCD_AUTH_TOKEN`,
    /// `ARGOCD_NAMESPACE` and `ARGOCD_INSECURE` (see the [module](self)).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut options = Options::default();
        if let Some(server) = var("ARGOCD_SERVER") {
            options = options.with_server(server);
        }
        options.token = var("ARGOCD_AUTH_TOKEN");
        if let Some(namespace) = var("ARGOCD_NAMESPACE") {
            options.namespace = namespace;
        }
        options.insecure_skip_tls_verify =
            var("ARGOCD_INSECURE").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        options
    }

    /// Sets the server; `https://` is assumed when `server` has no scheme.
    pub fn with_server(mut self, server: impl Into<String>) -> Self {
        let server = server.into();
        let server = server.trim().trim_end_matches('/');
        self.server = Some(if server.contains("://") {
            server.to_owned()
        } else {
            format!("https://{server}")
        });
        self
    }

    /// Sets the bearer token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the default namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets the poll interval.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
}

/// A label selector for Applications (Kubernetes' `LabelSelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Selector {
    /// Labels that must all have these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How the label relates to `values`.
    pub operator: Operator,
    /// The values (for `In` and `NotIn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A label requirement's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Operator {
    /// The label has one of the values.
    In,
    /// The label is missing or has none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl Selector {
    /// The selector in Kubernetes' string form (`a=b,c in (d,e),!f`), as
    /// Argo CD's `selector` query parameter takes it; an error names what
    /// is wrong.
    fn to_query(&self) -> Result<String, String> {
        if self.match_labels.is_empty() && self.match_expressions.is_empty() {
            return Err("`selector` needs `matchLabels` or `matchExpressions`".into());
        }
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for r in &self.match_expressions {
            if r.key.is_empty() {
                return Err("`matchExpressions[].key` is empty".into());
            }
            let needs_values = matches!(r.operator, Operator::In | Operator::NotIn);
            if needs_values == r.values.is_empty() {
                return Err(format!(
                    "`matchExpressions` on `{}`: `values` must be {} for {:?}",
                    r.key,
                    if needs_values { "non-empty" } else { "empty" },
                    r.operator
                ));
            }
            parts.push(match r.operator {
                Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
                Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Operator::Exists => r.key.clone(),
                Operator::DoesNotExist => format!("!{}", r.key),
            });
        }
        Ok(parts.join(","))
    }
}

/// Which Applications an entry of `apps` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    Name(&'a str),
    Selector(&'a Selector),
}

/// The target of an `apps[]` entry: exactly one of `name` and `selector`,
/// a selector with at least one requirement, each well formed.
pub(crate) fn target<'a>(
    kind: &str,
    index: usize,
    name: &'a Option<String>,
    selector: &'a Option<Selector>,
) -> Result<Target<'a>, kargo_core::step::StepError> {
    let name = name.as_deref().filter(|n| !n.is_empty());
    match (name, selector) {
        (Some(name), None) => Ok(Target::Name(name)),
        (None, Some(selector)) => match selector.to_query() {
            Ok(_) => Ok(Target::Selector(selector)),
            Err(e) => Err(kargo_core::step::StepError::failed(format!(
                "invalid {kind} config: `apps[{index}].selector`: {e}"
            ))),
        },
        _ => Err(kargo_core::step::StepError::failed(format!(
            "invalid {kind} config: `apps[{index}]` needs exactly one of `name` and `selector`"
        ))),
    }
}

/// Read access to the parts of an Application JSON the steps use.
pub(crate) trait AppView {
    fn at(&self, pointer: &str) -> Option<&Value>;

    fn str_at(&self, pointer: &str) -> &str {
        self.at(pointer).and_then(Value::as_str).unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.str_at("/metadata/name")
    }

    fn namespace(&self) -> &str {
        self.str_at("/metadata/namespace")
    }
}

impl AppView for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        self.pointer(pointer)
    }
}

/// The `apps` output entry of an Application.
pub(crate) fn app_ref(app: &Value) -> Value {
    serde_json::json!({"name": app.name(), "namespace": app.namespace()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_take_kubernetes_string_form() {
        let selector: Selector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"team": "platform"},
            "matchExpressions": [
                {"key": "environment", "operator": "In", "values": ["staging", "production"]},
                {"key": "managed-by", "operator": "NotIn", "values": ["legacy-system"]},
                {"key": "tier", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }))
        .unwrap();
        assert_eq!(
            selector.to_query().unwrap(),
            "team=platform,environment in (staging,production),managed-by notin (legacy-system),tier,!legacy"
        );
        assert!(Selector::default().to_query().is_err());
    }

    #[test]
    fn selectors_need_a_requirement_and_kubernetes_operators() {
        // Kargo's `argocd_common_test.go`.
        let parse = |v: serde_json::Value| serde_json::from_value::<Selector>(v);
        assert!(parse(serde_json::json!({})).unwrap().to_query().is_err());
        assert_eq!(
            parse(serde_json::json!({"matchLabels": {"app": "test"}}))
                .unwrap()
                .to_query()
                .unwrap(),
            "app=test"
        );
        assert_eq!(
            parse(serde_json::json!({"matchExpressions": [
                {"key": "app", "operator": "In", "values": ["a", "b"]},
            ]}))
            .unwrap()
            .to_query()
            .unwrap(),
            "app in (a,b)"
        );
        let err =
            parse(serde_json::json!({"matchExpressions": [{"key": "app", "operator": "Invalid"}]}))
                .unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `Invalid`"),
            "{err}"
        );
        // Exists takes no values; NotIn needs some.
        for bad in [
            serde_json::json!({"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["a"]}]}),
            serde_json::json!({"matchExpressions": [{"key": "app", "operator": "NotIn"}]}),
        ] {
            assert!(parse(bad).unwrap().to_query().is_err());
        }
    }

    #[test]
    fn options_debug_hides_the_token_and_servers_default_to_https() {
        let options = Options::new("argocd.example.com/").with_token("s3cr3t");
        assert_eq!(
            options.server.as_deref(),
            Some("https://argocd.example.com")
        );
        assert!(!format!("{options:?}").contains("s3cr3t"));
    }
}
