//! AWS Signature Version 4 for the few requests made here (ECR
//! `GetAuthorizationToken`): a small signer over the HMAC and SHA-256 of
//! the crypto library already in the tree, checked against AWS's
//! published test suite (`get-vanilla` and friends, in the tests below).
//!
//! The `aws-sigv4` crate would bring about twenty crates (the smithy
//! runtime, `time`, another `hmac`) for these few lines.

use std::time::SystemTime;

use aws_lc_rs::{digest, hmac};
use kargo_core::time::Timestamp;

use crate::http::encode;

/// The identity and scope a request is signed for.
pub(crate) struct Params<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) secret_access_key: &'a str,
    pub(crate) session_token: Option<&'a str>,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    pub(crate) time: SystemTime,
}

/// `20150830T123600Z`.
fn amz_date(time: SystemTime) -> String {
    let millis = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64 * 1000)
        .unwrap_or(0);
    Timestamp::from_unix_millis(millis)
        .to_string()
        .replace(['-', ':'], "")
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        .as_ref()
        .to_vec()
}

/// The canonical query string: pairs encoded, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(k), encode(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// What signing adds to a request, and the canonical request it signed
/// (for tests).
#[derive(Debug)]
pub(crate) struct Signed {
    /// Headers to add: `x-amz-date`, `x-amz-security-token` with a session
    /// token, and `authorization`.
    pub(crate) headers: Vec<(&'static str, String)>,
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) canonical_request: String,
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) signature: String,
}

/// Signs a request of `method` to `path?query` with `headers` (which must
/// include `host`) and `body`.
pub(crate) fn sign(
    p: &Params<'_>,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Signed {
    let amz_date = amz_date(p.time);
    let date = &amz_date[..8];
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), value)
        })
        .collect();
    all.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = p.session_token {
        all.push(("x-amz-security-token".into(), token.to_owned()));
    }
    all.sort();
    let mut canonical_headers = String::new();
    let mut names: Vec<&str> = Vec::new();
    for (name, value) in &all {
        if names.last() == Some(&name.as_str()) {
            // A repeated header: its values join with commas.
            canonical_headers.pop();
            canonical_headers.push_str(&format!(",{value}\n"));
        } else {
            canonical_headers.push_str(&format!("{name}:{value}\n"));
            names.push(name);
        }
    }
    let signed_headers = names.join(";");
    let path = match path {
        "" => "/".to_owned(),
        p => p.split('/').map(encode).collect::<Vec<_>>().join("/"),
    };
    let canonical_request = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        canonical_query(query),
        sha256_hex(body)
    );
    let scope = format!("{date}/{}/{}/aws4_request", p.region, p.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = hmac_sha256(format!("AWS4{}", p.secret_access_key).as_bytes(), date);
    for part in [p.region, p.service, "aws4_request"] {
        key = hmac_sha256(&key, part);
    }
    let signature = hex::encode(hmac_sha256(&key, &string_to_sign));
    let mut out = vec![("x-amz-date", amz_date)];
    if let Some(token) = p.session_token {
        out.push(("x-amz-security-token", token.to_owned()));
    }
    out.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            p.access_key_id
        ),
    ));
    Signed {
        headers: out,
        canonical_request,
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// AWS's SigV4 test suite: every case signs at 2015-08-30T12:36:00Z
    /// for region us-east-1, service `service`, with the example key.
    struct Case {
        name: &'static str,
        method: &'static str,
        query: &'static str,
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
        token: Option<&'static str>,
        canonical_request: &'static str,
        signature: &'static str,
    }

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    fn cases() -> Vec<Case> {
        let host: &'static [(&str, &str)] = &[("Host", "example.amazonaws.com")];
        vec![
            Case {
                name: "get-vanilla",
                method: "GET",
                query: "",
                headers: host,
                body: "",
                token: None,
                canonical_request: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            },
            Case {
                name: "post-vanilla",
                method: "POST",
                query: "",
                headers: host,
                body: "",
                token: None,
                canonical_request: "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            },
            Case {
                name: "get-vanilla-query-order-key-case",
                method: "GET",
                query: "Param2=value2&Param1=value1",
                headers: host,
                body: "",
                token: None,
                canonical_request: "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            },
            Case {
                name: "get-header-value-trim",
                method: "GET",
                query: "",
                headers: &[
                    ("Host", "example.amazonaws.com"),
                    ("My-Header1", " value1"),
                    ("My-Header2", " \"a   b   c\""),
                ],
                body: "",
                token: None,
                canonical_request: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            },
            Case {
                name: "post-sts-header-before",
                method: "POST",
                query: "",
                headers: host,
                body: "",
                token: Some(TOKEN),
                canonical_request: "",
                signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
            },
            Case {
                name: "post-x-www-form-urlencoded (with x-amz-content-sha256, as aws-c-auth's copy signs it)",
                method: "POST",
                query: "",
                headers: &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Host", "example.amazonaws.com"),
                    ("Content-Length", "13"),
                    (
                        "X-Amz-Content-Sha256",
                        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                    ),
                ],
                body: "Param1=value1",
                token: None,
                canonical_request: "",
                signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
            },
        ]
    }

    #[test]
    fn signatures_match_aws_sigv4_test_suite() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        assert_eq!(amz_date(time), "20150830T123600Z");
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
        for case in cases() {
            let params = Params {
                access_key_id: "AKIDEXAMPLE",
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                session_token: case.token,
                region: "us-east-1",
                service: "service",
                time,
            };
            let signed = sign(
                &params,
                case.method,
                "/",
                case.query,
                case.headers,
                case.body.as_bytes(),
            );
            if !case.canonical_request.is_empty() {
                assert_eq!(
                    signed.canonical_request, case.canonical_request,
                    "{}",
                    case.name
                );
            }
            assert_eq!(signed.signature, case.signature, "{}", case.name);
            let authorization = &signed.headers.last().unwrap().1;
            assert!(
                authorization.starts_with(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders="
                ),
                "{authorization}"
            );
            assert_eq!(
                signed
                    .headers
                    .iter()
                    .any(|(h, _)| *h == "x-amz-security-token"),
                case.token.is_some(),
                "{}",
                case.name
            );
        }
    }
}
