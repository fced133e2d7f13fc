//! How each kind of receiver checks that a request knows its secret:
//! HMAC signatures of the body, or a token sent as is, compared in
//! constant time.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use axum::http::{HeaderMap, StatusCode};

use super::receivers::{Receiver, sha256};
use super::{ReceiverKind, Rejection};

/// A receiver's secret. `Debug` never shows it.
#[derive(Clone)]
pub(super) struct SecretValue(String);

impl SecretValue {
    pub(super) fn new(value: String) -> Self {
        SecretValue(value)
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The hash of an HMAC signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MacAlgorithm {
    Sha256,
    Sha1,
}

/// What a request offers as proof that it knows the secret.
#[derive(Debug)]
enum Proof<'h> {
    /// The kind checks nothing but the path.
    PathOnly,
    /// The header that should hold the proof is missing.
    Missing(&'static str),
    /// The header is there but not in the expected form.
    Malformed(&'static str),
    /// An HMAC of the body.
    Mac {
        header: &'static str,
        algorithm: MacAlgorithm,
        tag: Vec<u8>,
    },
    /// The secret itself.
    Token {
        header: &'static str,
        value: &'h [u8],
    },
}

const HUB_SIGNATURE_256: &str = "x-hub-signature-256";
const HUB_SIGNATURE: &str = "x-hub-signature";
const GITEA_SIGNATURE: &str = "x-gitea-signature";
const JFROG_AUTH: &str = "x-jfrog-event-auth";
const GITLAB_TOKEN: &str = "x-gitlab-token";
const AUTHORIZATION: &str = "authorization";

/// Reads the proof a request of a receiver of `kind` carries.
fn proof(kind: ReceiverKind, headers: &HeaderMap) -> Proof<'_> {
    match kind {
        ReceiverKind::GitHub => prefixed_mac(headers, HUB_SIGNATURE_256, &[MacAlgorithm::Sha256]),
        ReceiverKind::Gitea => {
            if headers.contains_key(HUB_SIGNATURE_256) || !headers.contains_key(GITEA_SIGNATURE) {
                prefixed_mac(headers, HUB_SIGNATURE_256, &[MacAlgorithm::Sha256])
            } else {
                bare_mac(headers, GITEA_SIGNATURE)
            }
        }
        ReceiverKind::Bitbucket => prefixed_mac(
            headers,
            HUB_SIGNATURE,
            &[MacAlgorithm::Sha256, MacAlgorithm::Sha1],
        ),
        ReceiverKind::Artifactory => bare_mac(headers, JFROG_AUTH),
        ReceiverKind::GitLab => token(headers, GITLAB_TOKEN),
        ReceiverKind::Harbor => token(headers, AUTHORIZATION),
        ReceiverKind::Azure
        | ReceiverKind::Quay
        | ReceiverKind::DockerHub
        | ReceiverKind::Generic => Proof::PathOnly,
    }
}

/// `algorithm=hex`, as GitHub writes it (`sha256=…`).
fn prefixed_mac(
    headers: &HeaderMap,
    header: &'static str,
    allowed: &[MacAlgorithm],
) -> Proof<'static> {
    let Some(value) = headers.get(header) else {
        return Proof::Missing(header);
    };
    let Some((prefix, hex_tag)) = value.to_str().ok().and_then(|v| v.trim().split_once('=')) else {
        return Proof::Malformed(header);
    };
    let algorithm = match prefix {
        "sha256" => MacAlgorithm::Sha256,
        "sha1" => MacAlgorithm::Sha1,
        _ => return Proof::Malformed(header),
    };
    if !allowed.contains(&algorithm) {
        return Proof::Malformed(header);
    }
    match hex::decode(hex_tag) {
        Ok(tag) => Proof::Mac {
            header,
            algorithm,
            tag,
        },
        Err(_) => Proof::Malformed(header),
    }
}

/// A bare hex HMAC-SHA256, as Artifactory and Gitea write it.
fn bare_mac(headers: &HeaderMap, header: &'static str) -> Proof<'static> {
    let Some(value) = headers.get(header) else {
        return Proof::Missing(header);
    };
    match value.to_str().ok().map(|v| hex::decode(v.trim())) {
        Some(Ok(tag)) => Proof::Mac {
            header,
            algorithm: MacAlgorithm::Sha256,
            tag,
        },
        _ => Proof::Malformed(header),
    }
}

fn token<'h>(headers: &'h HeaderMap, header: &'static str) -> Proof<'h> {
    match headers.get(header) {
        Some(value) if !value.is_empty() => Proof::Token {
            header,
            value: value.as_bytes(),
        },
        _ => Proof::Missing(header),
    }
}

/// Checks the request's proof against the receiver's secret: 401 when
/// there is none, 403 when it is wrong or malformed.
pub(super) fn authenticate(
    receiver: &Receiver,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Rejection> {
    let secret = receiver.secret.bytes();
    match proof(receiver.kind(), headers) {
        Proof::PathOnly => Ok(()),
        Proof::Missing(header) => Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            format!("missing {} header", display_header(header)),
        )),
        Proof::Malformed(header) => Err(Rejection::new(
            StatusCode::FORBIDDEN,
            format!("malformed signature in {}", display_header(header)),
        )),
        Proof::Mac {
            header,
            algorithm,
            tag,
        } => {
            let algorithm = match algorithm {
                MacAlgorithm::Sha256 => hmac::HMAC_SHA256,
                MacAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            };
            hmac::verify(&hmac::Key::new(algorithm, secret), body, &tag).map_err(|_| {
                Rejection::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "the signature in {} does not match the body",
                        display_header(header)
                    ),
                )
            })
        }
        Proof::Token { header, value } => {
            // Digests first, so that the comparison takes as long whatever
            // the lengths.
            verify_slices_are_equal(&sha256(value), &sha256(secret)).map_err(|_| {
                Rejection::new(
                    StatusCode::FORBIDDEN,
                    format!("wrong {} header", display_header(header)),
                )
            })
        }
    }
}

/// The MAC of a request that carries one (for the replay guard).
pub(super) fn mac_of(kind: ReceiverKind, headers: &HeaderMap) -> Option<Vec<u8>> {
    match proof(kind, headers) {
        Proof::Mac { tag, .. } => Some(tag),
        _ => None,
    }
}

/// A header's name as services document it.
fn display_header(header: &str) -> &'static str {
    match header {
        HUB_SIGNATURE_256 => "X-Hub-Signature-256",
        HUB_SIGNATURE => "X-Hub-Signature",
        GITEA_SIGNATURE => "X-Gitea-Signature",
        JFROG_AUTH => "X-JFrog-Event-Auth",
        GITLAB_TOKEN => "X-Gitlab-Token",
        AUTHORIZATION => "Authorization",
        _ => "signature",
    }
}
