//! The few Argo CD API calls the steps make, over the `http` step's
//! client (cancellation, no link-local addresses, capped bodies).

use std::time::Duration;

use kargo_core::credentials::CredentialType;
use kargo_core::step::{StepContext, StepError, StepResultExt};
use reqwest::Url;
use serde_json::Value;

use super::Options;
use crate::http::client::{self, Request};
use crate::http::{Header, QueryParam};

/// The largest API response read.
const MAX_RESPONSE: u64 = 16 << 20;

/// An Argo CD API server, with the token to use.
pub(crate) struct Api<'a> {
    ctx: &'a StepContext,
    kind: &'static str,
    base: Url,
    headers: Vec<Header>,
    insecure_skip_tls_verify: bool,
    timeout: Duration,
}

impl<'a> Api<'a> {
    /// The server of `options`, with the options' token or the one the
    /// credentials provider has for the server URL.
    pub(crate) async fn connect(
        ctx: &'a StepContext,
        kind: &'static str,
        options: &Options,
    ) -> Result<Api<'a>, StepError> {
        let server = options.server.as_deref().ok_or_else(|| {
            StepError::terminal(format!(
                "{kind}: no Argo CD server is configured \
                 (set ARGOCD_SERVER, or the step's Options::server)"
            ))
        })?;
        let base = Url::parse(server)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                StepError::terminal(format!(
                    "{kind}: the Argo CD server `{}` is not an http(s) URL",
                    client::redact_url(server)
                ))
            })?;
        let token = match &options.token {
            Some(token) => Some(token.clone()),
            None => ctx
                .credentials
                .get(CredentialType::Generic, server)
                .await
                .with_step_context(|| {
                    format!("{kind}: cannot look up credentials for the Argo CD server")
                })?
                .map(|c| c.password),
        };
        let mut headers = vec![Header::new("Accept", "application/json")];
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            headers.push(Header::new("Authorization", format!("Bearer {token}")));
        }
        Ok(Api {
            ctx,
            kind,
            base,
            headers,
            insecure_skip_tls_verify: options.insecure_skip_tls_verify,
            timeout: options.request_timeout,
        })
    }

    fn url(&self, segments: &[&str]) -> String {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1", "applications"]);
            path.extend(segments);
        }
        url.to_string()
    }

    /// Sends one request and returns the JSON response; `what` describes
    /// it in messages.
    async fn call(
        &self,
        method: reqwest::Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, StepError> {
        let kind = self.kind;
        let url = self.url(segments);
        let shown = client::redact_url(&url);
        let query: Vec<QueryParam> = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| QueryParam::new(*k, *v))
            .collect();
        let mut headers = self.headers.clone();
        let body = match body {
            Some(body) => {
                headers.push(Header::new("Content-Type", "application/json"));
                Some(serde_json::to_vec(body).map_err(|e| {
                    StepError::terminal(format!("{kind}: cannot encode the request")).with_source(e)
                })?)
            }
            None => None,
        };
        let response = client::send(
            self.ctx,
            Request {
                kind,
                method,
                url: &url,
                headers: &headers,
                query_params: &query,
                body,
                timeout: self.timeout,
                insecure_skip_tls_verify: self.insecure_skip_tls_verify,
                proxy: None,
                // An Argo CD server is never a metadata endpoint.
                addresses: client::AddressPolicy::default(),
            },
        )
        .await?;
        let status = response.status().as_u16();
        let bytes =
            client::read_body(self.ctx, kind, &shown, self.timeout, response, MAX_RESPONSE).await?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| {
                StepError::terminal(format!(
                    "{kind}: Argo CD answered {what} with a body that is not JSON"
                ))
                .with_source(e)
            });
        }
        // Argo CD errors are `{"error", "code", "message"}` (gRPC status).
        let detail = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .filter(|m| !m.is_empty())
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let message = format!("{kind}: {what} at {shown} failed with HTTP {status}{detail}");
        // The config was usable: a refusal is terminal (Kargo: `Errored`).
        Err(match status {
            401 => StepError::terminal(format!(
                "{message} (the Argo CD token is missing, expired or invalid)"
            )),
            403 => StepError::terminal(format!(
                "{message} (the Argo CD account lacks permission, or the Application does not exist)"
            )),
            404 => StepError::terminal(format!("{message} (no such Application)")),
            429 | 500.. => StepError::retryable(message),
            _ => StepError::terminal(message),
        })
    }

    /// `GET /api/v1/applications/{name}`; with `refresh`, Argo CD
    /// reconciles it first (a hard refresh).
    pub(crate) async fn get(
        &self,
        namespace: &str,
        name: &str,
        refresh: bool,
    ) -> Result<Value, StepError> {
        let refresh = if refresh { "hard" } else { "" };
        self.call(
            reqwest::Method::GET,
            &[name],
            &[("appNamespace", namespace), ("refresh", refresh)],
            None,
            &format!("getting Application `{name}` in namespace `{namespace}`"),
        )
        .await
    }

    /// `GET /api/v1/applications?selector=…`.
    pub(crate) async fn list(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<Value>, StepError> {
        let list = self
            .call(
                reqwest::Method::GET,
                &[],
                &[("appNamespace", namespace), ("selector", selector)],
                None,
                &format!("listing Applications in namespace `{namespace}`"),
            )
            .await?;
        Ok(match list.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        })
    }

    /// `PUT /api/v1/applications/{name}/spec`.
    pub(crate) async fn update_spec(
        &self,
        namespace: &str,
        name: &str,
        spec: &Value,
    ) -> Result<(), StepError> {
        self.call(
            reqwest::Method::PUT,
            &[name, "spec"],
            &[("appNamespace", namespace)],
            Some(spec),
            &format!("updating the spec of Application `{name}`"),
        )
        .await
        .map(drop)
    }

    /// `POST /api/v1/applications/{name}/sync` (the request names the
    /// namespace).
    pub(crate) async fn sync(&self, name: &str, request: &Value) -> Result<(), StepError> {
        self.call(
            reqwest::Method::POST,
            &[name, "sync"],
            &[],
            Some(request),
            &format!("syncing Application `{name}`"),
        )
        .await
        .map(drop)
    }
}

/// The Applications a target names: one by name, or all a selector
/// matches (none is an error).
pub(crate) async fn resolve(
    api: &Api<'_>,
    kind: &str,
    namespace: &str,
    target: &super::Target<'_>,
) -> Result<Vec<Value>, StepError> {
    match target {
        super::Target::Name(name) => Ok(vec![api.get(namespace, name, false).await?]),
        super::Target::Selector(selector) => {
            let query = selector
                .to_query()
                .map_err(|e| StepError::failed(format!("invalid {kind} config: {e}")))?;
            let apps = api.list(namespace, &query).await?;
            if apps.is_empty() {
                return Err(StepError::terminal(format!(
                    "{kind}: no Argo CD Applications found matching selector `{query}` \
                     in namespace `{namespace}`"
                )));
            }
            Ok(apps)
        }
    }
}
