//! HTTP plumbing shared by the exchanges: form bodies, JSON answers, and
//! one reading of the clouds' error codes.

use serde::de::DeserializeOwned;

use crate::error::{Error, Origin};

pub(crate) use kargo_core::urls::percent_encode as encode;

/// An `application/x-www-form-urlencoded` body.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The error code a cloud put in an error answer: AWS JSON `__type`
/// (`prefix#Code` too), AWS XML `<Code>`, OAuth `error`, or the
/// `x-amzn-ErrorType` header.
fn error_code(header: Option<&str>, body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["__type", "error", "code", "Code"]
                .iter()
                .find_map(|k| v.get(k).and_then(|c| c.as_str()).map(str::to_owned))
        });
    let from_xml = || crate::aws::xml_text(body, "Code");
    let code = header
        .map(str::to_owned)
        .or(from_json)
        .or_else(from_xml)
        .unwrap_or_else(|| "unknown".to_owned());
    // `com.amazonaws.ecr#Code` or `Code:http://...`: the code alone. Codes
    // are identifiers; anything else is not echoed.
    let code = code.rsplit('#').next().unwrap_or_default();
    let code = code.split(':').next().unwrap_or_default();
    if !code.is_empty()
        && code.len() <= 100
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        code.to_owned()
    } else {
        "unknown".to_owned()
    }
}

/// Sends `request`, and reads a successful answer's body; an error answer
/// becomes [`Error::Refused`] with the cloud's code.
pub(crate) async fn send(
    origin: &Origin,
    operation: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<String, Error> {
    let response = request
        .send()
        .await
        .map_err(|e| origin.failed(operation, without_url(&e)))?;
    let status = response.status();
    let header = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .text()
        .await
        .map_err(|e| origin.failed(operation, without_url(&e)))?;
    if status.is_success() {
        Ok(body)
    } else {
        let code = error_code(header.as_deref(), &body);
        Err(origin.refused(operation, code, status.as_u16()))
    }
}

/// Sends `request` and reads a JSON answer as `T`.
pub(crate) async fn send_json<T: DeserializeOwned>(
    origin: &Origin,
    operation: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<T, Error> {
    let body = send(origin, operation, request).await?;
    // serde_json's message names the field, never the value.
    serde_json::from_str(&body)
        .map_err(|e| origin.failed(operation, format!("unexpected answer: {e}")))
}

/// A reqwest error's text without its URL (a URL may carry a query).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let host = e
        .url()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    format!("{kind} ({host})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_every_cloud_shape_and_nothing_else_is_echoed() {
        let cases = [
            (
                None,
                r#"{"__type":"com.amazonaws.ecr#InvalidSignatureException","message":"x"}"#,
                "InvalidSignatureException",
            ),
            (
                Some("UnrecognizedClientException:http://internal.amazon.com/"),
                "",
                "UnrecognizedClientException",
            ),
            (
                None,
                "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code></Error></ErrorResponse>",
                "InvalidIdentityToken",
            ),
            (
                None,
                r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
                "invalid_grant",
            ),
            (
                None,
                r#"{"error":"the key is AKIDEXAMPLE/wJalr+secret"}"#,
                "unknown",
            ),
            (None, "<html>oops</html>", "unknown"),
        ];
        for (header, body, code) in cases {
            assert_eq!(error_code(header, body), code, "{body}");
        }
    }

    #[test]
    fn forms_encode_everything_but_unreserved_characters() {
        assert_eq!(
            form(&[("scope", "repository:a/b:pull,push"), ("k", "a b+c~")]),
            "scope=repository%3Aa%2Fb%3Apull%2Cpush&k=a%20b%2Bc~"
        );
    }
}
