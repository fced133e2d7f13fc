use async_trait::async_trait;
use kargo_core::duration::GoDuration;
use kargo_core::step::{
    Capabilities, ErrorKind, Step, StepContext, StepError, StepOutcome, parse_config,
};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Map, Value, json};

use super::client::{self, AddressPolicy, Request, redact_url};
use super::{
    Config, ContentType, DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT, KIND, Options, RULES, TOUCHES,
};
use crate::schema;

/// The `http` step: sends a request and turns the response into an
/// outcome through the config's expressions (see the [module](super)).
///
/// Stateless and idempotent as far as the request is: a step that returned
/// `Running` sends the same request again.
#[derive(Debug, Clone, Default)]
pub struct Http {
    options: Options,
}

impl Http {
    /// The step with default [`Options`].
    pub fn new() -> Self {
        Http::default()
    }

    /// The step with `options`.
    pub fn with_options(options: Options) -> Self {
        Http { options }
    }
}

/// A non-empty expression, or `None` (Kargo treats `""` as unset).
fn expression(e: &Option<String>) -> Option<&str> {
    e.as_deref().filter(|e| !e.trim().is_empty())
}

impl Http {
    async fn request_body(
        &self,
        ctx: &StepContext,
        config: &Config,
    ) -> Result<Option<Vec<u8>>, StepError> {
        let body = config.body.as_deref().filter(|b| !b.is_empty());
        let file = config.body_from_file.as_deref().filter(|f| !f.is_empty());
        match (body, file) {
            (Some(_), Some(_)) => Err(StepError::failed(format!(
                "invalid {KIND} config: `body` and `bodyFromFile` are mutually exclusive"
            ))),
            (Some(body), None) => Ok(Some(body.as_bytes().to_vec())),
            (None, Some(file)) => {
                let path = ctx.workspace.resolve(file)?;
                let limit = self.options.max_response_bytes;
                let workspace = ctx
                    .workspace
                    .clone()
                    .with_max_file_bytes(limit.min(ctx.workspace.max_file_bytes()));
                let shown = file.to_owned();
                let bytes = crate::edit::blocking(move || {
                    workspace
                        .read_file(&path, &shown)
                        .map_err(|e| StepError::from(e).context(format!("{KIND}: `bodyFromFile`")))
                })
                .await?;
                Ok(Some(bytes))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Go's canonical form of a header name: `content-type` -> `Content-Type`.
fn canonical_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// `response.headers`: canonical name to the list of values, as Go's
/// `http.Header` is.
fn headers_value(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let entry = map
            .entry(canonical_header_name(name.as_str()))
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }
    Value::Object(map)
}

/// How a body is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParseMode {
    /// JSON, required to be valid.
    Json,
    /// JSON when valid, else ignored (unrecognised content types).
    JsonIfValid,
    Yaml,
    Text,
}

fn parse_mode(forced: Option<ContentType>, header: Option<&str>) -> ParseMode {
    match forced {
        Some(ContentType::Json) => return ParseMode::Json,
        Some(ContentType::Yaml) => return ParseMode::Yaml,
        Some(ContentType::Text) => return ParseMode::Text,
        None => {}
    }
    let media_type = header
        .and_then(|h| h.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media_type.as_str() {
        "application/json" => ParseMode::Json,
        "application/yaml" | "text/yaml" | "application/x-yaml" => ParseMode::Yaml,
        "text/plain" => ParseMode::Text,
        _ => ParseMode::JsonIfValid,
    }
}

/// `response.body`: `{}` when empty, else parsed as `mode` says.
fn parse_body(bytes: &[u8], mode: ParseMode) -> Result<Value, String> {
    if bytes.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match mode {
        ParseMode::Json => {
            serde_json::from_slice(bytes).map_err(|e| format!("failed to parse JSON response: {e}"))
        }
        ParseMode::JsonIfValid => Ok(serde_json::from_slice(bytes).unwrap_or_else(|_| {
            tracing::debug!("response of unrecognised content type is not JSON; body ignored");
            Value::Object(Map::new())
        })),
        ParseMode::Yaml => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| format!("failed to parse YAML response: {e}"))?;
            serde_saphyr::from_str(text).map_err(|e| format!("failed to parse YAML response: {e}"))
        }
        ParseMode::Text => Ok(Value::String(String::from_utf8_lossy(bytes).into_owned())),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Evaluates a success or failure expression; `None` when it is unset.
fn eval_criterion(
    ctx: &StepContext,
    which: &str,
    expr: Option<&str>,
    env: &Map<String, Value>,
) -> Result<Option<bool>, StepError> {
    let Some(expr) = expr else {
        return Ok(None);
    };
    match ctx.eval_expression(expr, env.clone()) {
        Ok(Value::Bool(b)) => Ok(Some(b)),
        Ok(other) => Err(StepError::retryable(format!(
            "{KIND}: {which} expression `{expr}` did not evaluate to a boolean (got {})",
            type_name(&other)
        ))),
        Err(e) => Err(expression_error(
            ctx,
            expr,
            &format!("{which} expression"),
            e,
        )),
    }
}

/// The error for an expression that could not be evaluated. As in Kargo,
/// one that does not even parse is a mistake in the config, so the step
/// ends `Errored` without retries; one that parses but fails on this
/// response (an unknown function, a wrong type) may pass on another attempt.
fn expression_error(
    ctx: &StepContext,
    expr: &str,
    what: &str,
    e: kargo_core::expr::ExprError,
) -> StepError {
    let error = match ctx.evaluator.check_expression(expr) {
        Err(_) => StepError::terminal(format!("{KIND}: error compiling {what} `{expr}`")),
        Ok(()) => StepError::retryable(format!("{KIND}: error evaluating {what} `{expr}`")),
    };
    error.with_source(e)
}

fn build_outputs(
    ctx: &StepContext,
    config: &Config,
    env: &Map<String, Value>,
) -> Result<Map<String, Value>, StepError> {
    let mut outputs = Map::new();
    for output in &config.outputs {
        let value = ctx
            .eval_expression(&output.from_expression, env.clone())
            .map_err(|e| {
                expression_error(
                    ctx,
                    &output.from_expression,
                    &format!("the expression of output `{}`", output.name),
                    e,
                )
            })?;
        outputs.insert(output.name.clone(), value);
    }
    Ok(outputs)
}

/// The message of `errorExpression`: a non-empty string, else nothing
/// (an expression that fails on this response, or gives another type,
/// falls back to the default message, as in Kargo). One that does not
/// parse is a config mistake and ends the step `Errored`, as in Kargo.
fn error_message(
    ctx: &StepContext,
    config: &Config,
    env: &Map<String, Value>,
) -> Result<Option<String>, StepError> {
    let Some(expr) = expression(&config.error_expression) else {
        return Ok(None);
    };
    match ctx.eval_expression(expr, env.clone()) {
        Ok(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Ok(_) => Ok(None),
        Err(e) => match expression_error(ctx, expr, "error expression", e) {
            error if error.kind() == ErrorKind::Terminal => Err(error),
            error => {
                tracing::debug!(error = %error, "error expression could not be evaluated");
                Ok(None)
            }
        },
    }
}

fn validate(config: &Config) -> Result<(), StepError> {
    if config.url.is_empty() {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: `url` is empty"
        )));
    }
    client::validate_pairs(KIND, &config.headers, &config.query_params)?;
    for output in &config.outputs {
        if output.name.is_empty() || output.from_expression.trim().is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `outputs[]` needs a `name` and a `fromExpression`"
            )));
        }
    }
    Ok(())
}

#[async_trait]
impl Step for Http {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        validate(&config)?;
        let body = self.request_body(ctx, &config).await?;
        let timeout = config
            .timeout
            .map_or(DEFAULT_TIMEOUT, GoDuration::as_duration);
        let shown = redact_url(&config.url);
        let response = client::send(
            ctx,
            Request {
                kind: KIND,
                method: config.method.into(),
                url: &config.url,
                headers: &config.headers,
                query_params: &config.query_params,
                body,
                timeout,
                insecure_skip_tls_verify: config.insecure_skip_tls_verify,
                proxy: config.proxy.as_deref(),
                addresses: AddressPolicy::new(&self.options.allowed_internal_addresses),
            },
        )
        .await?;

        let status = response.status().as_u16();
        let headers = headers_value(response.headers());
        let mode = parse_mode(
            config.response_content_type,
            response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let bytes = client::read_body(
            ctx,
            KIND,
            &shown,
            timeout,
            response,
            self.options.max_response_bytes,
        )
        .await?;
        tracing::debug!(status, url = %shown, bytes = bytes.len(), "HTTP response");
        let body = parse_body(&bytes, mode).map_err(|e| {
            StepError::retryable(format!(
                "{KIND}: error reading the response from {shown}: {e}"
            ))
        })?;
        let mut env = Map::new();
        env.insert(
            "response".into(),
            json!({ "status": status, "headers": headers, "body": body }),
        );

        let success = eval_criterion(ctx, "success", expression(&config.success_expression), &env)?;
        let failure = eval_criterion(ctx, "failure", expression(&config.failure_expression), &env)?;
        match (success, failure) {
            (_, Some(true)) => {
                let message = match error_message(ctx, &config, &env)? {
                    Some(m) => format!("HTTP ({status}) response met failure criteria: {m:?}"),
                    None => format!("HTTP ({status}) response met failure criteria"),
                };
                Err(StepError::failed(message))
            }
            (Some(true), _) => {
                Ok(StepOutcome::succeeded().with_outputs(build_outputs(ctx, &config, &env)?))
            }
            (None, None) if (200..300).contains(&status) => {
                Ok(StepOutcome::succeeded().with_outputs(build_outputs(ctx, &config, &env)?))
            }
            (None, None) => Err(StepError::retryable(format!(
                "HTTP ({status}) response from {shown} is not a success (2xx)"
            ))),
            _ => {
                let interval = config
                    .poll_interval
                    .map_or(DEFAULT_POLL_INTERVAL, GoDuration::as_duration);
                Ok(StepOutcome::running(interval).with_message(format!(
                    "HTTP ({status}) response met neither success nor failure criteria; \
                     polling again in {}",
                    GoDuration::new(interval)
                )))
            }
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, crate::http::PAIR_RULES, config)?;
        schema::check(KIND, RULES, config)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn header_names_take_go_canonical_form() {
        assert_eq!(canonical_header_name("content-type"), "Content-Type");
        assert_eq!(canonical_header_name("x-request-id"), "X-Request-Id");
        assert_eq!(canonical_header_name("etag"), "Etag");
    }

    #[test]
    fn bodies_parse_by_content_type_with_json_fallback() {
        let json = br#"{"a":1}"#;
        assert_eq!(
            parse_body(
                json,
                parse_mode(None, Some("application/json; charset=utf-8"))
            )
            .unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            parse_body(json, parse_mode(None, Some("application/octet-stream"))).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            parse_body(b"<html>", parse_mode(None, Some("text/html"))).unwrap(),
            json!({})
        );
        assert!(parse_body(b"<html>", parse_mode(None, Some("application/json"))).is_err());
        assert_eq!(
            parse_body(
                b"version: \"2.0\"\nn: 3\n",
                parse_mode(None, Some("text/yaml"))
            )
            .unwrap(),
            json!({"version": "2.0", "n": 3})
        );
        assert_eq!(
            parse_body(
                b"a: 1",
                parse_mode(Some(ContentType::Text), Some("application/yaml"))
            )
            .unwrap(),
            json!("a: 1")
        );
        assert_eq!(
            parse_body(
                b"a: 1",
                parse_mode(Some(ContentType::Yaml), Some("text/plain"))
            )
            .unwrap(),
            json!({"a": 1})
        );
        assert_eq!(parse_body(b"", ParseMode::Text).unwrap(), json!({}));
    }
}
