//! Who is calling, and what they may do.
//!
//! The auth file (`--auth FILE`) holds the admin password's bcrypt hash,
//! the key that signs login tokens, and API tokens, each kept as the
//! SHA-256 of its text with a role and the projects it reaches:
//!
//! ```yaml
//! adminPasswordHash: $2b$12$...   # bcrypt; without it login answers 403
//! tokenSigningKey: BASE64         # at least 32 bytes
//! tokens:
//! - name: ci                      # the actor of what the token does
//!   hash: sha256:HEX              # the token itself is never stored
//!   role: promoter                # viewer | promoter | admin
//!   projects: [demo]              # or ["*"]
//! ```
//!
//! A caller presents `Authorization: Bearer TOKEN`: either a login token
//! (an HS256 JWT this server signed, subject `admin`) or an API token.
//! Every comparison of a secret runs in constant time, and no secret is
//! logged, echoed or shown by `Debug`.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{constant_time, digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// How long a login token is valid.
pub const LOGIN_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The issuer written into, and required of, login tokens.
const ISSUER: &str = "kargo-rs";
/// The shortest signing key accepted, in bytes.
const MIN_KEY_LEN: usize = 32;

/// What a role allows, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything in its projects.
    Viewer,
    /// A viewer who may also promote, approve, abort, refresh and
    /// reverify.
    Promoter,
    /// Everything, resources included.
    Admin,
}

impl Role {
    /// Whether the role allows `action`.
    pub fn allows(self, action: Action) -> bool {
        self >= action.least_role()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Viewer => "viewer",
            Role::Promoter => "promoter",
            Role::Admin => "admin",
        })
    }
}

/// What an API operation does, for access control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Reads (Get, List, watch).
    Read,
    /// Promotes, approves, aborts, refreshes or reverifies.
    Promote,
    /// Changes definitions: resources, aliases.
    Admin,
}

impl Action {
    /// The least role that may do it.
    pub fn least_role(self) -> Role {
        match self {
            Action::Read => Role::Viewer,
            Action::Promote => Role::Promoter,
            Action::Admin => Role::Admin,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who: `admin` for a login token, the token's name for an API token,
    /// `anonymous` on an open server. Recorded as the actor of what they do.
    pub subject: String,
    /// Their role.
    pub role: Role,
    /// The projects they reach; `None`: every project.
    pub projects: Option<Vec<String>>,
}

impl Principal {
    /// The caller of an open server (no `--auth`): an admin of everything.
    pub fn anonymous() -> Self {
        Principal {
            subject: "anonymous".to_owned(),
            role: Role::Admin,
            projects: None,
        }
    }

    /// Whether the caller reaches `project` at all.
    pub fn reaches(&self, project: &str) -> bool {
        self.projects
            .as_ref()
            .is_none_or(|list| list.iter().any(|p| p == project))
    }

    /// Whether the caller may do `action` in `project` (`None`: an
    /// operation outside any project, such as applying resources).
    pub fn may(&self, action: Action, project: Option<&str>) -> bool {
        self.role.allows(action) && project.is_none_or(|p| self.reaches(p))
    }
}

/// Why an auth file cannot be used. The message names the file and the
/// field, never a secret.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct AuthFileError {
    file: String,
    message: String,
}

/// Why a request's credentials were refused (answered with 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unauthenticated {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    Missing,
    /// A token that is neither a valid login token nor a known API token.
    #[error("invalid token")]
    Invalid,
    /// A login token past its expiry.
    #[error("token expired")]
    Expired,
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The auth file has no admin password.
    #[error("admin user is not enabled")]
    Disabled,
    /// The password does not match.
    #[error("invalid password")]
    WrongPassword,
}

/// The file's shape.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AuthFileDoc {
    #[serde(default)]
    admin_password_hash: Option<String>,
    token_signing_key: String,
    #[serde(default)]
    tokens: Vec<TokenDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenDoc {
    name: String,
    hash: String,
    role: Role,
    #[serde(default)]
    projects: Vec<String>,
}

/// An API token as kept: the SHA-256 of its text.
struct ApiToken {
    name: String,
    digest: [u8; 32],
    role: Role,
    projects: Option<Vec<String>>,
}

/// The server's credentials: checks bearer tokens and admin logins.
pub struct Auth {
    admin_password_hash: Option<String>,
    key: hmac::Key,
    tokens: Vec<ApiToken>,
    ttl: Duration,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("admin_enabled", &self.admin_password_hash.is_some())
            .field(
                "tokens",
                &self.tokens.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Reads the auth file at `path`.
    pub fn load(path: &Path) -> Result<Auth, AuthFileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| AuthFileError {
            file: file.clone(),
            message: format!("cannot read: {e}"),
        })?;
        Auth::from_yaml(&text, &file)
    }

    /// Reads an auth file's text; `file` names it in errors.
    pub fn from_yaml(text: &str, file: &str) -> Result<Auth, AuthFileError> {
        let err = |message: String| AuthFileError {
            file: file.to_owned(),
            message,
        };
        // A YAML error's snippet could quote a secret: name only the
        // position and an unknown or missing field.
        let doc: AuthFileDoc = serde_saphyr::from_str(text).map_err(|e| {
            let text = e.to_string();
            let field = ["unknown field `", "missing field `"]
                .iter()
                .find_map(|lead| {
                    let (_, rest) = text.split_once(lead)?;
                    let (name, _) = rest.split_once('`')?;
                    Some(format!(": {}{name}`", lead))
                })
                .unwrap_or_default();
            let at = e
                .location()
                .map(|at| format!(" (line {}, column {})", at.line(), at.column()))
                .unwrap_or_default();
            err(format!("not an auth file{at}{field}"))
        })?;
        let key = STANDARD
            .decode(doc.token_signing_key.trim())
            .map_err(|_| err("tokenSigningKey is not base64".to_owned()))?;
        if key.len() < MIN_KEY_LEN {
            return Err(err(format!(
                "tokenSigningKey has {} bytes; at least {MIN_KEY_LEN} are needed",
                key.len()
            )));
        }
        if let Some(hash) = &doc.admin_password_hash
            && !hash.starts_with("$2")
        {
            return Err(err("adminPasswordHash is not a bcrypt hash".to_owned()));
        }
        let mut tokens = Vec::with_capacity(doc.tokens.len());
        for (i, t) in doc.tokens.into_iter().enumerate() {
            let at = |what: &str| err(format!("tokens[{i}] ({}): {what}", t.name));
            if t.name.is_empty() {
                return Err(err(format!("tokens[{i}]: name is empty")));
            }
            if tokens.iter().any(|k: &ApiToken| k.name == t.name) {
                return Err(at("the name is used twice"));
            }
            let hex_digest = t
                .hash
                .strip_prefix("sha256:")
                .ok_or_else(|| at("hash must be `sha256:HEX`"))?;
            let digest: [u8; 32] = hex::decode(hex_digest)
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| at("hash must be `sha256:` and 64 hex digits"))?;
            if t.projects.is_empty() {
                return Err(at("projects is empty (list them, or [\"*\"])"));
            }
            let projects = (!t.projects.iter().any(|p| p == "*")).then_some(t.projects);
            tokens.push(ApiToken {
                name: t.name,
                digest,
                role: t.role,
                projects,
            });
        }
        Ok(Auth {
            admin_password_hash: doc.admin_password_hash,
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            tokens,
            ttl: LOGIN_TOKEN_TTL,
        })
    }

    /// Sets how long a login token is valid (default [`LOGIN_TOKEN_TTL`]).
    pub fn with_login_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Whether the admin may log in.
    pub fn admin_enabled(&self) -> bool {
        self.admin_password_hash.is_some()
    }

    /// Checks the admin password and returns a signed login token.
    pub fn login(&self, password: &str) -> Result<String, LoginError> {
        let hash = self
            .admin_password_hash
            .as_deref()
            .ok_or(LoginError::Disabled)?;
        if !bcrypt::verify(password, hash).unwrap_or(false) {
            return Err(LoginError::WrongPassword);
        }
        Ok(self.sign("admin", unix_now()))
    }

    /// A login token for `subject`, issued at `now` (seconds since the
    /// epoch).
    fn sign(&self, subject: &str, now: u64) -> String {
        let mut jti = [0u8; 16];
        // Without randomness the token is still valid; its ID only helps
        // to tell tokens apart.
        let _ = rand::fill(&mut jti);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: subject.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
            jti: hex::encode(jti),
        };
        let claims =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialize to JSON"));
        let signed = format!("{header}.{claims}");
        let tag = hmac::sign(&self.key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The caller presenting `token`: a login token this server signed and
    /// still valid, or a known API token.
    pub fn authenticate(&self, token: &str) -> Result<Principal, Unauthenticated> {
        if token.is_empty() {
            return Err(Unauthenticated::Missing);
        }
        if token.matches('.').count() == 2 {
            return self.verify_login_token(token, unix_now());
        }
        let presented = digest::digest(&digest::SHA256, token.as_bytes());
        // Every token is compared, so the time taken does not tell which
        // one matched.
        let mut found = None;
        for t in &self.tokens {
            if constant_time::verify_slices_are_equal(presented.as_ref(), &t.digest).is_ok() {
                found = Some(t);
            }
        }
        let t = found.ok_or(Unauthenticated::Invalid)?;
        Ok(Principal {
            subject: t.name.clone(),
            role: t.role,
            projects: t.projects.clone(),
        })
    }

    fn verify_login_token(&self, token: &str, now: u64) -> Result<Principal, Unauthenticated> {
        let (signed, tag) = token.rsplit_once('.').ok_or(Unauthenticated::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| Unauthenticated::Invalid)?;
        hmac::verify(&self.key, signed.as_bytes(), &tag).map_err(|_| Unauthenticated::Invalid)?;
        let (header, claims) = signed.split_once('.').ok_or(Unauthenticated::Invalid)?;
        let header: Header = decode_part(header)?;
        if header.alg != "HS256" {
            return Err(Unauthenticated::Invalid);
        }
        let claims: Claims = decode_part(claims)?;
        if claims.iss != ISSUER || claims.nbf > now + 60 {
            return Err(Unauthenticated::Invalid);
        }
        if claims.exp <= now {
            return Err(Unauthenticated::Expired);
        }
        // Only the admin logs in; a signed token names its subject.
        Ok(Principal {
            subject: claims.sub,
            role: Role::Admin,
            projects: None,
        })
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, Unauthenticated> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Unauthenticated::Invalid)?;
    serde_json::from_slice(&bytes).map_err(|_| Unauthenticated::Invalid)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The `sha256:HEX` an auth file keeps for an API token's text.
pub fn token_hash(token: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
    )
}

/// The token of an `Authorization: Bearer TOKEN` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

    fn auth(extra: &str) -> Auth {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let text = format!(
            "adminPasswordHash: '{hash}'\ntokenSigningKey: {KEY}\ntokens:\n\
             - {{name: ci, hash: '{}', role: promoter, projects: [demo]}}\n\
             - {{name: ro, hash: '{}', role: viewer, projects: ['*']}}\n{extra}",
            token_hash("ci-token"),
            token_hash("ro-token"),
        );
        Auth::from_yaml(&text, "auth.yaml").unwrap()
    }

    #[test]
    fn a_login_token_authenticates_the_admin_until_it_expires() {
        let auth = auth("");
        let token = auth.login("s3cret").unwrap();
        let who = auth.authenticate(&token).unwrap();
        assert_eq!(who.subject, "admin");
        assert_eq!(who.role, Role::Admin);
        let old = auth.sign("admin", unix_now() - 2 * LOGIN_TOKEN_TTL.as_secs());
        assert_eq!(auth.authenticate(&old), Err(Unauthenticated::Expired));
    }

    #[test]
    fn a_wrong_password_or_a_forged_token_is_refused() {
        let auth = auth("");
        assert_eq!(auth.login("nope"), Err(LoginError::WrongPassword));
        let token = auth.login("s3cret").unwrap();
        // The same claims signed with another key.
        let other = Auth::from_yaml(
            &format!("tokenSigningKey: {}\n", STANDARD.encode([7u8; 32])),
            "other.yaml",
        )
        .unwrap();
        let forged = other.sign("admin", unix_now());
        assert_eq!(auth.authenticate(&forged), Err(Unauthenticated::Invalid));
        // A payload swapped under the original signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(
            br#"{"iss":"kargo-rs","sub":"mallory","iat":0,"nbf":0,"exp":99999999999,"jti":"x"}"#,
        );
        parts[1] = &evil;
        assert_eq!(
            auth.authenticate(&parts.join(".")),
            Err(Unauthenticated::Invalid)
        );
    }

    #[test]
    fn api_tokens_carry_their_role_and_projects() {
        let auth = auth("");
        let ci = auth.authenticate("ci-token").unwrap();
        assert_eq!(ci.subject, "ci");
        assert!(ci.may(Action::Promote, Some("demo")));
        assert!(!ci.may(Action::Promote, Some("other")));
        assert!(!ci.may(Action::Admin, Some("demo")));
        let ro = auth.authenticate("ro-token").unwrap();
        assert!(ro.may(Action::Read, Some("anything")));
        assert!(!ro.may(Action::Promote, Some("anything")));
        assert_eq!(auth.authenticate("unknown"), Err(Unauthenticated::Invalid));
    }

    #[test]
    fn without_a_password_hash_login_is_disabled() {
        let auth = Auth::from_yaml(&format!("tokenSigningKey: {KEY}\n"), "a.yaml").unwrap();
        assert!(!auth.admin_enabled());
        assert_eq!(auth.login("anything"), Err(LoginError::Disabled));
    }

    #[test]
    fn unusable_auth_files_name_the_field_and_never_the_secret() {
        let short = Auth::from_yaml("tokenSigningKey: c2hvcnQ=\n", "a.yaml").unwrap_err();
        assert!(
            short.to_string().contains("tokenSigningKey has 5 bytes"),
            "{short}"
        );
        let bad_hash = Auth::from_yaml(
            &format!("tokenSigningKey: {KEY}\ntokens: [{{name: ci, hash: abc, role: admin, projects: ['*']}}]\n"),
            "a.yaml",
        )
        .unwrap_err();
        assert!(
            bad_hash.to_string().contains("tokens[0] (ci): hash"),
            "{bad_hash}"
        );
        let unknown = Auth::from_yaml(
            &format!("tokenSigningKey: {KEY}\npassword: hunter2\n"),
            "a.yaml",
        )
        .unwrap_err();
        let text = unknown.to_string();
        assert!(text.contains("unknown field `password`"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let role = Auth::from_yaml(
            &format!("tokenSigningKey: {KEY}\ntokens: [{{name: ci, hash: x, role: root, projects: ['*']}}]\n"),
            "a.yaml",
        )
        .unwrap_err();
        assert!(
            role.to_string().starts_with("a.yaml: not an auth file"),
            "{role}"
        );
        assert!(!format!("{:?}", auth("")).contains("s3cret"));
    }

    #[test]
    fn bearer_reads_the_token() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
