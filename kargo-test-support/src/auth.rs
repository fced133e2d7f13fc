//! The auth file of `kargo serve`'s tests: the admin password, a signing
//! key, and one API token per role.

use sha2::{Digest as _, Sha256};

/// The signing key of the test auth file (32 bytes, base64).
pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// The admin password.
pub const PASSWORD: &str = "correct horse";
/// A viewer's API token (`alice`, the test project).
pub const VIEWER: &str = "viewer-token";
/// A promoter's API token (`ci`, every project).
pub const PROMOTER: &str = "promoter-token";
/// An admin's API token (`ops`, the test project).
pub const ADMIN: &str = "admin-token";
/// A promoter of another project (`bob`, project `other`).
pub const STRANGER: &str = "stranger-token";

/// How an auth file stores a token: `sha256:HEX` of its text.
pub fn token_hash(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// The auth file's YAML: the admin password ([`PASSWORD`]), the signing
/// key ([`KEY`]), and the tokens above, `project` being the test project.
pub fn auth_file(project: &str) -> String {
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hashes the password");
    format!(
        "adminPasswordHash: '{hash}'\ntokenSigningKey: {KEY}\ntokens:\n\
         - {{name: alice, hash: '{}', role: viewer, projects: [{project}]}}\n\
         - {{name: ci, hash: '{}', role: promoter, projects: ['*']}}\n\
         - {{name: ops, hash: '{}', role: admin, projects: [{project}]}}\n\
         - {{name: bob, hash: '{}', role: promoter, projects: [other]}}\n",
        token_hash(VIEWER),
        token_hash(PROMOTER),
        token_hash(ADMIN),
        token_hash(STRANGER),
    )
}
