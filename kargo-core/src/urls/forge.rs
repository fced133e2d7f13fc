//! [`Forge`]: which hosting service a repository URL points at, and the
//! links that service gives a repository and its commits. The one place
//! kargo-rs maps a host to a forge: provider selection and the `commitURL`
//! output of pushes both read it.

use std::fmt;

use super::RepoUrl;

/// A Git hosting service kargo-rs can link to and open pull requests on.
///
/// A repository on a host of no known kind, or on this machine, has no
/// forge ([`RepoUrl::forge`] is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Forge {
    /// GitHub and GitHub Enterprise.
    GitHub,
    /// GitLab, hosted or self-managed.
    GitLab,
    /// Gitea and Forgejo (Codeberg included).
    Gitea,
    /// Azure DevOps Services (`dev.azure.com`, `*.visualstudio.com`).
    Azure,
    /// Bitbucket Cloud.
    Bitbucket,
}

impl Forge {
    /// `github`, `gitlab`, `gitea`, `azure` or `bitbucket`: the names of
    /// Kargo's `provider` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
            Forge::Azure => "azure",
            Forge::Bitbucket => "bitbucket",
        }
    }

    /// The forge a (lowercase) host name suggests, as Kargo infers it:
    /// `dev.azure.com`, `ssh.dev.azure.com` and hosts under
    /// `visualstudio.com` (`vs-ssh.visualstudio.com` too) are Azure DevOps;
    /// `bitbucket.org` is Bitbucket Cloud; a host containing `github`, or
    /// under `ghe.com`, is GitHub; one containing `gitlab` is GitLab; one
    /// containing `gitea` or `forgejo`, and `codeberg.org`, is Gitea.
    /// Any other host has no known forge.
    ///
    /// ```
    /// use kargo_core::urls::Forge;
    /// assert_eq!(Forge::from_host("gitlab.example.com"), Some(Forge::GitLab));
    /// assert_eq!(Forge::from_host("git.example.com"), None);
    /// ```
    pub fn from_host(host: &str) -> Option<Forge> {
        let host = host.to_ascii_lowercase();
        if host == "dev.azure.com"
            || host == "ssh.dev.azure.com"
            || host.ends_with(".visualstudio.com")
        {
            Some(Forge::Azure)
        } else if host == "bitbucket.org" {
            Some(Forge::Bitbucket)
        } else if host.contains("github") || host.ends_with(".ghe.com") {
            Some(Forge::GitHub)
        } else if host.contains("gitlab") {
            Some(Forge::GitLab)
        } else if host.contains("gitea") || host.contains("forgejo") || host == "codeberg.org" {
            Some(Forge::Gitea)
        } else {
            None
        }
    }

    /// The path, below a repository's web page, of `commit`'s page.
    fn commit_path(self, commit: &str) -> String {
        match self {
            Forge::GitHub | Forge::Gitea | Forge::Azure => format!("commit/{commit}"),
            Forge::GitLab => format!("-/commit/{commit}"),
            Forge::Bitbucket => format!("commits/{commit}"),
        }
    }
}

impl fmt::Display for Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The hosts Azure DevOps serves SSH on, whose paths read
/// `v3/ORG/PROJECT/REPO` rather than the web's `ORG/PROJECT/_git/REPO`.
const AZURE_SSH_HOSTS: [&str; 2] = ["ssh.dev.azure.com", "vs-ssh.visualstudio.com"];

impl RepoUrl {
    /// The forge this repository's host suggests ([`Forge::from_host`]);
    /// `None` for local repositories and hosts of no known kind.
    pub fn forge(&self) -> Option<Forge> {
        if self.is_local() {
            return None;
        }
        Forge::from_host(self.host()?)
    }

    /// The repository's web page on `forge`: [`web_url`](Self::web_url),
    /// except that an Azure DevOps SSH address
    /// (`git@ssh.dev.azure.com:v3/ORG/PROJECT/REPO`) gets the page its
    /// repository has on `https://dev.azure.com/ORG/PROJECT/_git/REPO`.
    /// `None` for local repositories.
    ///
    /// ```
    /// use kargo_core::urls::{Forge, RepoUrl};
    /// let url = RepoUrl::parse("git@ssh.dev.azure.com:v3/acme/web/demo").unwrap();
    /// assert_eq!(
    ///     url.forge_web_url(Forge::Azure).as_deref(),
    ///     Some("https://dev.azure.com/acme/web/_git/demo")
    /// );
    /// ```
    pub fn forge_web_url(&self, forge: Forge) -> Option<String> {
        if forge == Forge::Azure
            && self.host().is_some_and(|h| AZURE_SSH_HOSTS.contains(&h))
            && let [v3, org, project, repo] = self.path().split('/').collect::<Vec<_>>()[..]
            && v3.eq_ignore_ascii_case("v3")
        {
            return Some(format!("https://dev.azure.com/{org}/{project}/_git/{repo}"));
        }
        self.web_url()
    }

    /// The web page of `commit` in this repository on `forge`:
    /// `…/commit/SHA` (GitHub, Gitea, Azure DevOps), `…/-/commit/SHA`
    /// (GitLab) or `…/commits/SHA` (Bitbucket), below
    /// [`forge_web_url`](Self::forge_web_url). `None` for local
    /// repositories.
    ///
    /// ```
    /// use kargo_core::urls::RepoUrl;
    /// let url = RepoUrl::parse("git@gitlab.com:acme/demo.git").unwrap();
    /// let forge = url.forge().unwrap();
    /// assert_eq!(
    ///     url.commit_url(forge, "abc123").as_deref(),
    ///     Some("https://gitlab.com/acme/demo/-/commit/abc123")
    /// );
    /// ```
    pub fn commit_url(&self, forge: Forge, commit: &str) -> Option<String> {
        let web = self.forge_web_url(forge)?;
        Some(format!("{web}/{}", forge.commit_path(commit)))
    }

    /// The owner and name of a repository on a forge that names its
    /// repositories `OWNER/NAME` (GitHub, Gitea, Bitbucket): the two
    /// segments of [`path`](Self::path), or `None` when it has another
    /// number of them.
    pub fn owner_and_name(&self) -> Option<(&str, &str)> {
        self.path()
            .split_once('/')
            .filter(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every URL form git reads, on every forge: the forge inferred from
    /// the host and the commit link made for it.
    #[test]
    fn forges_and_commit_links_come_from_one_table() {
        use Forge::*;
        let cases: &[(&str, Option<Forge>, Option<&str>)] = &[
            // GitHub, GitHub Enterprise (ghe.com and self-hosted).
            (
                "https://github.com/o/r.git",
                Some(GitHub),
                Some("https://github.com/o/r/commit/C"),
            ),
            (
                "ssh://git@github.com/o/r.git",
                Some(GitHub),
                Some("https://github.com/o/r/commit/C"),
            ),
            (
                "git@github.com:o/r.git",
                Some(GitHub),
                Some("https://github.com/o/r/commit/C"),
            ),
            (
                "https://acme.ghe.com/o/r",
                Some(GitHub),
                Some("https://acme.ghe.com/o/r/commit/C"),
            ),
            (
                "https://github.example.com/o/r",
                Some(GitHub),
                Some("https://github.example.com/o/r/commit/C"),
            ),
            // GitLab, with subgroups; an ssh port is git's, not the web's.
            (
                "https://gitlab.com/g/sub/r.git",
                Some(GitLab),
                Some("https://gitlab.com/g/sub/r/-/commit/C"),
            ),
            (
                "ssh://git@gitlab.com:2222/g/r.git",
                Some(GitLab),
                Some("https://gitlab.com/g/r/-/commit/C"),
            ),
            (
                "git@gitlab.example.com:g/r.git",
                Some(GitLab),
                Some("https://gitlab.example.com/g/r/-/commit/C"),
            ),
            // Bitbucket Cloud; a Bitbucket Server is of no known kind.
            (
                "https://bitbucket.org/acme/r.git",
                Some(Bitbucket),
                Some("https://bitbucket.org/acme/r/commits/C"),
            ),
            (
                "git@bitbucket.org:acme/r.git",
                Some(Bitbucket),
                Some("https://bitbucket.org/acme/r/commits/C"),
            ),
            ("https://bitbucket.example.com/acme/r", None, None),
            // Azure DevOps: the https forms keep their path; the ssh forms
            // link to the repository's web page.
            (
                "https://dev.azure.com/org/proj/_git/r",
                Some(Azure),
                Some("https://dev.azure.com/org/proj/_git/r/commit/C"),
            ),
            (
                "https://org@dev.azure.com/org/proj/_git/r",
                Some(Azure),
                Some("https://dev.azure.com/org/proj/_git/r/commit/C"),
            ),
            (
                "git@ssh.dev.azure.com:v3/org/proj/r",
                Some(Azure),
                Some("https://dev.azure.com/org/proj/_git/r/commit/C"),
            ),
            (
                "ssh://git@ssh.dev.azure.com/v3/org/proj/r",
                Some(Azure),
                Some("https://dev.azure.com/org/proj/_git/r/commit/C"),
            ),
            (
                "https://org.visualstudio.com/proj/_git/r",
                Some(Azure),
                Some("https://org.visualstudio.com/proj/_git/r/commit/C"),
            ),
            (
                "https://Org.VisualStudio.com/proj/_git/r",
                Some(Azure),
                Some("https://org.visualstudio.com/proj/_git/r/commit/C"),
            ),
            (
                "org@vs-ssh.visualstudio.com:v3/org/proj/r",
                Some(Azure),
                Some("https://dev.azure.com/org/proj/_git/r/commit/C"),
            ),
            ("https://notvisualstudio.com/org/proj/_git/r", None, None),
            ("https://azure.example.com/org/proj/_git/r", None, None),
            // Gitea and Forgejo; an http forge on its own port keeps both.
            (
                "https://gitea.com/o/r.git",
                Some(Gitea),
                Some("https://gitea.com/o/r/commit/C"),
            ),
            (
                "https://codeberg.org/o/r",
                Some(Gitea),
                Some("https://codeberg.org/o/r/commit/C"),
            ),
            (
                "http://forgejo.local:3000/o/r.git",
                Some(Gitea),
                Some("http://forgejo.local:3000/o/r/commit/C"),
            ),
            (
                "git@gitea.example.com:o/r.git",
                Some(Gitea),
                Some("https://gitea.example.com/o/r/commit/C"),
            ),
            // Self-hosted hosts of no known kind, and local repositories.
            ("https://git.example.com/o/r", None, None),
            ("git@git.example.com:o/r.git", None, None),
            ("file:///srv/git/github/r.git", None, None),
            ("/srv/git/gitlab/r.git", None, None),
        ];
        for &(url, forge, link) in cases {
            let parsed = RepoUrl::parse(url).unwrap();
            assert_eq!(parsed.forge(), forge, "{url}");
            let made = forge.and_then(|f| parsed.commit_url(f, "C"));
            assert_eq!(made.as_deref(), link, "{url}");
        }
    }

    #[test]
    fn a_named_forge_links_any_host() {
        let url = RepoUrl::parse("https://git.example.com/o/r").unwrap();
        assert_eq!(
            url.commit_url(Forge::Gitea, "C").as_deref(),
            Some("https://git.example.com/o/r/commit/C")
        );
        // An Azure DevOps Server keeps its own path.
        let url = RepoUrl::parse("https://tfs.example.com/Collection/proj/_git/r").unwrap();
        assert_eq!(
            url.commit_url(Forge::Azure, "C").as_deref(),
            Some("https://tfs.example.com/Collection/proj/_git/r/commit/C")
        );
        let local = RepoUrl::parse("file:///srv/git/r.git").unwrap();
        assert_eq!(local.commit_url(Forge::GitHub, "C"), None);
    }

    #[test]
    fn owners_and_names_are_two_segments() {
        let owner_and_name = |url: &str| {
            RepoUrl::parse(url)
                .unwrap()
                .owner_and_name()
                .map(|(o, n)| (o.to_owned(), n.to_owned()))
        };
        assert_eq!(
            owner_and_name("git@github.com:acme/demo.git"),
            Some(("acme".into(), "demo".into()))
        );
        assert_eq!(owner_and_name("https://gitlab.com/g/sub/r"), None);
        assert_eq!(owner_and_name("https://github.com/acme"), None);
    }
}
