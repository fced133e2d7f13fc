//! Choosing a provider: by name, or from the repository URL's host.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use kargo_core::credentials::Credentials;
use kargo_core::urls::{Forge, RepoUrl, redact_url};

use super::local::LocalProvider;
use super::{DynGitProvider, Error};
use crate::cli::Identity;

/// The providers, named as Kargo's step configs name them (`provider:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderKind {
    /// Pull requests kept inside the repository itself.
    Local,
    /// GitHub and GitHub Enterprise.
    GitHub,
    /// GitLab.
    GitLab,
    /// Gitea and Forgejo.
    Gitea,
    /// Azure DevOps (Services and Server).
    Azure,
    /// Bitbucket Cloud.
    Bitbucket,
}

impl ProviderKind {
    /// `local`, `github`, `gitlab`, `gitea`, `azure` or `bitbucket`.
    pub fn as_str(self) -> &'static str {
        self.forge().map_or("local", Forge::as_str)
    }

    /// The provider a repository URL's host suggests, as Kargo infers it:
    /// the [`Forge`] of [`Forge::from_host`] (Azure DevOps for
    /// `dev.azure.com`, `ssh.dev.azure.com` and `*.visualstudio.com`;
    /// Bitbucket Cloud for `bitbucket.org`; GitHub, GitLab or Gitea for a
    /// host naming them). Every other URL (`file://`, a path, a host of
    /// unknown kind, an Azure DevOps Server) gets the embedded local
    /// provider, which works on any repository git can push to.
    pub fn infer(repo_url: &str) -> ProviderKind {
        forge_url(repo_url)
            .ok()
            .and_then(|url| url.forge())
            .map_or(ProviderKind::Local, ProviderKind::from)
    }

    /// The forge this provider talks to; `None` for [`ProviderKind::Local`].
    pub fn forge(self) -> Option<Forge> {
        match self {
            ProviderKind::Local => None,
            ProviderKind::GitHub => Some(Forge::GitHub),
            ProviderKind::GitLab => Some(Forge::GitLab),
            ProviderKind::Gitea => Some(Forge::Gitea),
            ProviderKind::Azure => Some(Forge::Azure),
            ProviderKind::Bitbucket => Some(Forge::Bitbucket),
        }
    }
}

/// The provider of each forge.
impl From<Forge> for ProviderKind {
    fn from(forge: Forge) -> Self {
        match forge {
            Forge::GitHub => ProviderKind::GitHub,
            Forge::GitLab => ProviderKind::GitLab,
            Forge::Gitea => ProviderKind::Gitea,
            Forge::Azure => ProviderKind::Azure,
            Forge::Bitbucket => ProviderKind::Bitbucket,
            // `Forge` is non-exhaustive: a forge this crate does not know
            // yet gets the provider that works everywhere.
            _ => ProviderKind::Local,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "local" => ProviderKind::Local,
            "github" => ProviderKind::GitHub,
            "gitlab" => ProviderKind::GitLab,
            "gitea" | "forgejo" => ProviderKind::Gitea,
            "azure" => ProviderKind::Azure,
            "bitbucket" => ProviderKind::Bitbucket,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown git provider {other:?} \
                     (expected local, github, gitlab, gitea, azure or bitbucket)"
                )));
            }
        })
    }
}

impl ProviderKind {
    /// Every name [`FromStr`] reads, as step configs write them: Kargo's
    /// five, `forgejo` (Gitea's API) and kargo-rs's forge-less `local`.
    /// Early config checks take their list from here.
    pub const NAMES: &'static [&'static str] = &[
        "azure",
        "bitbucket",
        "forgejo",
        "gitea",
        "github",
        "gitlab",
        "local",
    ];
}

/// A step config's `provider: github` reads through [`FromStr`], so a
/// config takes every name [`ProviderKind::NAMES`] lists, and an unknown
/// one is refused naming the field.
impl<'de> serde::Deserialize<'de> for ProviderKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Written as [`ProviderKind::as_str`].
impl serde::Serialize for ProviderKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Host settings for [`select()`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct SelectOptions {
    /// Credentials for the repository: the password is the API token of
    /// the REST providers, and the local provider hands both to git.
    pub credentials: Option<Credentials>,
    /// Skip TLS certificate verification (Kargo's `insecureSkipTLSVerify`).
    pub insecure_skip_tls_verify: bool,
    /// Where the local provider keeps its working repositories (default:
    /// [`RepoCache::from_env`](crate::RepoCache::from_env)'s root).
    pub work_root: Option<PathBuf>,
    /// Who the local provider's merge commits are by (default: Kargo).
    pub identity: Option<Identity>,
}

impl fmt::Debug for SelectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectOptions")
            .field("credentials", &self.credentials)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("work_root", &self.work_root)
            .field("identity", &self.identity)
            .finish()
    }
}

impl SelectOptions {
    /// Sets [`SelectOptions::credentials`].
    pub fn with_credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets [`SelectOptions::insecure_skip_tls_verify`].
    pub fn with_insecure_skip_tls_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_tls_verify = skip;
        self
    }

    /// Sets [`SelectOptions::work_root`].
    pub fn with_work_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.work_root = Some(root.into());
        self
    }

    /// Sets [`SelectOptions::identity`].
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }
}

/// The provider for `repo_url`: the one `name` names (`local`, `github`,
/// `gitlab`, `gitea`, `azure`, `bitbucket`), else the one
/// [`ProviderKind::infer`] finds.
pub fn select(
    repo_url: &str,
    name: Option<&str>,
    options: SelectOptions,
) -> Result<Box<DynGitProvider>, Error> {
    let kind = name.filter(|n| !n.is_empty()).map(str::parse).transpose()?;
    select_kind(repo_url, kind, options)
}

/// The provider for `repo_url`: `kind`, else the one
/// [`ProviderKind::infer`] finds.
pub fn select_kind(
    repo_url: &str,
    kind: Option<ProviderKind>,
    options: SelectOptions,
) -> Result<Box<DynGitProvider>, Error> {
    let kind = kind.unwrap_or_else(|| ProviderKind::infer(repo_url));
    #[cfg(feature = "rest")]
    let rest = || {
        super::rest::RestOptions::default()
            .with_token(options.credentials.as_ref().map(|c| c.password.clone()))
            .with_insecure_skip_tls_verify(options.insecure_skip_tls_verify)
    };
    Ok(match kind {
        ProviderKind::Local => {
            let mut local = LocalProvider::new(repo_url).with_credentials(options.credentials);
            if let Some(root) = options.work_root {
                local = local.with_work_root(root);
            }
            if let Some(identity) = options.identity {
                local = local.with_identity(identity);
            }
            Box::new(local)
        }
        #[cfg(feature = "github")]
        ProviderKind::GitHub => Box::new(super::github::GitHubProvider::new(repo_url, rest())?),
        #[cfg(feature = "gitlab")]
        ProviderKind::GitLab => Box::new(super::gitlab::GitLabProvider::new(repo_url, rest())?),
        #[cfg(feature = "gitea")]
        ProviderKind::Gitea => Box::new(super::gitea::GiteaProvider::new(repo_url, rest())?),
        #[cfg(feature = "azure")]
        ProviderKind::Azure => Box::new(super::azure::AzureProvider::new(repo_url, rest())?),
        #[cfg(feature = "bitbucket")]
        ProviderKind::Bitbucket => {
            Box::new(super::bitbucket::BitbucketProvider::new(repo_url, rest())?)
        }
        #[allow(unreachable_patterns)]
        other => {
            return Err(Error::Unsupported {
                provider: other.as_str(),
                operation: "pull requests (this build lacks the provider's feature)".to_owned(),
            });
        }
    })
}

/// `url` parsed for a forge provider: a local repository, or a remote one
/// with a web origin (HTTP(S), SSH, SCP-like or `git://`) and a path of at
/// least `OWNER/REPO`. Anything else is an [`Error::Invalid`] showing the
/// URL redacted.
pub(crate) fn forge_url(url: &str) -> Result<RepoUrl, Error> {
    let invalid = |why: &str| Error::Invalid(format!("repository URL {}: {why}", redact_url(url)));
    let parsed = RepoUrl::parse(url).map_err(|e| invalid(&e.reason))?;
    if parsed.is_local() {
        return Ok(parsed);
    }
    if parsed.web_origin().is_none() {
        return Err(invalid("unsupported scheme"));
    }
    if parsed.host().is_none_or(str::is_empty) || !parsed.path().contains('/') {
        return Err(invalid("expected https://HOST/OWNER/REPO"));
    }
    Ok(parsed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_inferred_from_the_host() {
        let cases = [
            ("https://github.com/o/r.git", ProviderKind::GitHub),
            ("git@github.com:o/r.git", ProviderKind::GitHub),
            ("https://acme.ghe.com/o/r", ProviderKind::GitHub),
            ("https://gitlab.example.com/g/sub/r", ProviderKind::GitLab),
            ("https://gitea.example.com/o/r", ProviderKind::Gitea),
            ("https://codeberg.org/o/r", ProviderKind::Gitea),
            ("https://bitbucket.org/acme/r.git", ProviderKind::Bitbucket),
            ("git@bitbucket.org:acme/r.git", ProviderKind::Bitbucket),
            ("https://bitbucket.example.com/acme/r", ProviderKind::Local),
            ("https://dev.azure.com/org/proj/_git/r", ProviderKind::Azure),
            (
                "https://org@dev.azure.com/org/proj/_git/r",
                ProviderKind::Azure,
            ),
            (
                "https://org.visualstudio.com/proj/_git/r",
                ProviderKind::Azure,
            ),
            (
                "https://Org.VisualStudio.com/proj/_git/r",
                ProviderKind::Azure,
            ),
            ("git@ssh.dev.azure.com:v3/org/proj/r", ProviderKind::Azure),
            (
                "org@vs-ssh.visualstudio.com:v3/org/proj/r",
                ProviderKind::Azure,
            ),
            (
                "https://azure.example.com/org/proj/_git/r",
                ProviderKind::Local,
            ),
            (
                "https://notvisualstudio.com/org/proj/_git/r",
                ProviderKind::Local,
            ),
            ("https://git.example.com/o/r", ProviderKind::Local),
            ("file:///srv/git/r.git", ProviderKind::Local),
            ("/srv/git/r.git", ProviderKind::Local),
        ];
        for (url, kind) in cases {
            assert_eq!(ProviderKind::infer(url), kind, "{url}");
        }
    }

    #[test]
    fn forge_urls_need_an_owner_and_keep_secrets_out_of_errors() {
        let u = forge_url("https://u:s3cret@git.example.com:8443/g/sub/r.git/").unwrap();
        assert_eq!(
            (u.web_host().as_str(), u.path()),
            ("git.example.com:8443", "g/sub/r")
        );
        let u = forge_url("ssh://git@github.com:22/o/r.git").unwrap();
        assert_eq!((u.web_host().as_str(), u.path()), ("github.com", "o/r"));
        assert!(forge_url("file:///srv/git/r.git").unwrap().is_local());
        let err = forge_url("https://u:s3cret@github.com/").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(err.to_string().contains("OWNER/REPO"), "{err}");
        let err = forge_url("ext::ssh example.com %S o/r").unwrap_err();
        assert!(err.to_string().contains("unsupported scheme"), "{err}");
    }

    #[test]
    fn every_provider_names_its_forge() {
        for name in ProviderKind::NAMES {
            let kind: ProviderKind = name.parse().unwrap();
            match kind.forge() {
                Some(forge) => {
                    assert_eq!(ProviderKind::from(forge), kind);
                    assert_eq!(forge.as_str(), kind.as_str());
                }
                None => assert_eq!(kind, ProviderKind::Local),
            }
        }
    }

    #[test]
    fn every_listed_name_reads_in_a_config_and_others_are_refused() {
        for name in ProviderKind::NAMES {
            let kind: ProviderKind = serde_json::from_value(serde_json::json!(name)).unwrap();
            let back = serde_json::to_value(kind).unwrap();
            assert_eq!(back.as_str().unwrap(), kind.as_str());
            assert_eq!(name.parse::<ProviderKind>().unwrap(), kind);
        }
        let err =
            serde_json::from_value::<ProviderKind>(serde_json::json!("bitbuckit")).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown git provider \"bitbuckit\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_provider_names_are_rejected() {
        let err = select("https://x/o/r", Some("bitbuckit"), SelectOptions::default()).unwrap_err();
        assert!(err.to_string().contains("\"bitbuckit\""), "{err}");
        assert!(err.to_string().contains("azure or bitbucket"), "{err}");
    }

    #[test]
    fn azure_is_named_and_selected() {
        let kind: ProviderKind = "azure".parse().unwrap();
        assert_eq!(kind, ProviderKind::Azure);
        assert_eq!(kind.as_str(), "azure");
        assert_eq!(kind.to_string(), "azure");
        #[cfg(feature = "azure")]
        {
            let credentials = Credentials {
                username: String::new(),
                password: "pat-s3cret".to_owned(),
            };
            let options = SelectOptions::default().with_credentials(Some(credentials));
            // Inferred from the host, and named on any other host (a server).
            for (url, name) in [
                ("https://dev.azure.com/org/proj/_git/r", None),
                (
                    "https://tfs.example.com/Collection/proj/_git/r",
                    Some("azure"),
                ),
            ] {
                let provider = select(url, name, options.clone()).unwrap();
                assert_eq!(provider.name(), "azure", "{url}");
                assert!(!format!("{provider:?}").contains("pat-s3cret"));
            }
            // Azure DevOps needs a token.
            let err = select(
                "https://dev.azure.com/org/proj/_git/r",
                None,
                SelectOptions::default(),
            )
            .unwrap_err();
            assert!(err.to_string().contains("token"), "{err}");
        }
    }

    #[test]
    #[cfg(feature = "bitbucket")]
    fn bitbucket_is_inferred_and_named() {
        for (url, name) in [
            ("https://bitbucket.org/acme/r.git", None),
            ("https://bitbucket.org/acme/r", Some("bitbucket")),
        ] {
            let provider = select(url, name, SelectOptions::default()).unwrap();
            assert_eq!(provider.name(), "bitbucket", "{url}");
            assert!(!provider.capabilities().labels);
        }
    }
}
