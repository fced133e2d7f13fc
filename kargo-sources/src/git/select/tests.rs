use super::*;

#[test]
fn pushes_match_as_kargos_selectors_match_refs_and_paths() {
    let sub =
        |strategy: CommitSelectionStrategy, branch: &str, extra: &dyn Fn(&mut GitSubscription)| {
            let mut sub = GitSubscription {
                repo_url: "https://github.com/acme/config".into(),
                branch: branch.into(),
                commit_selection_strategy: strategy,
                ..GitSubscription::default()
            };
            extra(&mut sub);
            Selector::new(&sub).unwrap()
        };
    let none = |_: &mut GitSubscription| {};
    let branch = sub(CommitSelectionStrategy::NewestFromBranch, "", &none);
    let semver = sub(CommitSelectionStrategy::SemVer, "", &|s| {
        s.semver_constraint = "^1".into();
    });
    let lexical = sub(CommitSelectionStrategy::Lexical, "", &|s| {
        s.ignore_tags_regexes = vec!["-rc".into()];
    });
    let paths = sub(CommitSelectionStrategy::NewestFromBranch, "release", &|s| {
        s.include_paths = vec!["glob:apps/*/values.yaml".into()];
        s.exclude_paths = vec!["apps/legacy".into()];
    });
    // (selector, ref, changed paths, matches)
    let cases: [(&Selector, &str, &[&str], bool); 13] = [
        (&branch, "refs/heads/main", &[], true),
        (&branch, "refs/heads/master", &[], true),
        (&branch, "refs/heads/feature", &[], false),
        (&branch, "refs/tags/v1.0.0", &[], false),
        (&semver, "refs/tags/v1.4.0", &[], true),
        (&semver, "refs/tags/v2.0.0", &[], false),
        (&semver, "refs/tags/latest", &[], false),
        (&semver, "refs/heads/main", &[], false),
        (&lexical, "refs/tags/zeta", &[], true),
        (&lexical, "refs/tags/v2-rc", &[], false),
        (
            &paths,
            "refs/heads/release",
            &["apps/web/values.yaml"],
            true,
        ),
        (
            &paths,
            "refs/heads/release",
            &["apps/legacy/values.yaml", "README"],
            false,
        ),
        (&paths, "refs/heads/main", &["apps/web/values.yaml"], false),
    ];
    for (selector, r, changed, expected) in cases {
        let refs = [r.to_owned()];
        let changed: Vec<String> = changed.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(
            selector.matches_push(&refs, &changed),
            expected,
            "{r} {changed:?} {selector:?}"
        );
    }
}

#[test]
fn long_subjects_are_cut_to_eighty_bytes() {
    let long = "x".repeat(100);
    let cut = shorten(&long, SUBJECT_LIMIT);
    assert_eq!(cut.len(), 80);
    assert!(cut.ends_with("..."));
    assert_eq!(shorten("short", SUBJECT_LIMIT), "short");
    let wide = "é".repeat(60);
    assert!(shorten(&wide, SUBJECT_LIMIT).len() <= 80);
}

#[test]
fn go_parse_bool_spellings() {
    use crate::source::go_parse_bool;
    assert_eq!(go_parse_bool("T"), Some(true));
    assert_eq!(go_parse_bool("False"), Some(false));
    assert_eq!(go_parse_bool("yes"), None);
}

// Kargo's table tests of commit selection (akuity/kargo
// `pkg/controller/git/commit/*_test.go`), case by case, in kargo-rs's
// terms: selectors are built from the subscription as a Warehouse writes
// it; tag lists and commits are plain values where Kargo's tests mock the
// repository (its clone and ListTags failures have no counterpart here:
// the integration tests read real repositories).

/// The selector a git subscription with `fields` (and a `repoURL`)
/// compiles to.
fn selector(fields: Value) -> Result<Selector, Error> {
    let mut git = json!({"repoURL": "https://github.com/example/repo.git"});
    git.as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("object").clone());
    let sub: GitSubscription = serde_json::from_value(git).expect("valid subscription");
    Selector::new(&sub)
}

fn ok(fields: Value) -> Selector {
    selector(fields.clone()).unwrap_or_else(|e| panic!("{fields}: {e}"))
}

/// The field an invalid subscription is refused for.
fn refused_field(fields: Value) -> &'static str {
    match selector(fields.clone()) {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("{fields}: {other:?}"),
    }
}

const TAG_STRATEGIES: [&str; 3] = ["SemVer", "Lexical", "NewestTag"];
const STRATEGIES: [&str; 4] = ["NewestFromBranch", "SemVer", "Lexical", "NewestTag"];

fn with_strategy(strategy: &str, fields: Value) -> Value {
    let mut fields = fields;
    fields["commitSelectionStrategy"] = json!(strategy);
    fields
}

/// TestNewBaseSelector, and the base-selector errors of
/// TestNewTagBasedSelector, TestNewLexicalSelector, TestNewNewestTagSelector,
/// TestNewSemverSelectorTest and TestNewNewestFromBranchSelector.
#[test]
fn kargo_selector_construction_errors_name_the_field() {
    for strategy in STRATEGIES {
        let field = |fields: Value| refused_field(with_strategy(strategy, fields));
        // "error parsing filter expression" / "error building base selector"
        assert_eq!(
            field(json!({"expressionFilter": "(1 + 2"})),
            "expressionFilter"
        );
        // Not Kargo's: a function or method kargo-rs lacks is refused here,
        // not at every discovery.
        assert_eq!(
            field(json!({"expressionFilter": "creatorDate.Format('2006') == '2024'"})),
            "expressionFilter"
        );
        assert_eq!(
            field(json!({"expressionFilter": "nosuch(tag)"})),
            "expressionFilter"
        );
        // "error parsing include path selectors"
        assert_eq!(field(json!({"includePaths": ["regex:["]})), "includePaths");
        // "error parsing exclude path selectors"
        assert_eq!(field(json!({"excludePaths": ["regex:["]})), "excludePaths");
    }
    for strategy in TAG_STRATEGIES {
        let field = |fields: Value| refused_field(with_strategy(strategy, fields));
        // "error using deprecated AllowTags" / "IgnoreTags"
        assert_eq!(field(json!({"allowTags": "^v1\\."})), "allowTags");
        assert_eq!(field(json!({"ignoreTags": ["v1.0.0"]})), "ignoreTags");
        // "error compiling AllowTagsRegexes" / "IgnoreTagsRegexes"
        assert_eq!(
            field(json!({"allowTagsRegexes": ["["]})),
            "allowTagsRegexes"
        );
        assert_eq!(
            field(json!({"ignoreTagsRegexes": ["["]})),
            "ignoreTagsRegexes"
        );
    }
    // TestNewSemverSelectorTest: "error parsing semver constraint".
    assert_eq!(
        refused_field(json!({"commitSelectionStrategy": "SemVer", "semverConstraint": "invalid"})),
        "semverConstraint"
    );
}

#[test]
fn kargo_selector_construction_success() {
    // TestNewBaseSelector "success".
    let s = ok(json!({
        "insecureSkipTLSVerify": true,
        "expressionFilter": "false",
        "includePaths": ["apps/"],
        "excludePaths": ["hack/"],
        "discoveryLimit": 5,
    }));
    assert!(s.filter.is_some());
    assert!(s.paths.is_active());
    assert_eq!(s.limit, 5);
    // TestNewTagBasedSelector "success".
    let s = ok(json!({
        "commitSelectionStrategy": "Lexical",
        "allowTagsRegexes": ["^v2\\."],
        "ignoreTagsRegexes": ["^v1\\.0\\..*"],
    }));
    assert_eq!(s.allow.len(), 1);
    assert_eq!(s.allow[0].as_str(), "^v2\\.");
    assert_eq!(s.ignore.len(), 1);
    assert_eq!(s.ignore[0].as_str(), "^v1\\.0\\..*");
    // TestNewLexicalSelector / TestNewNewestTagSelector "success".
    for strategy in TAG_STRATEGIES {
        assert!(ok(with_strategy(strategy, json!({}))).is_tag_based());
    }
    // TestNewSemverSelectorTest "success".
    let s = ok(json!({"commitSelectionStrategy": "SemVer", "semverConstraint": "^v1.0.0"}));
    assert!(s.constraint.is_some());
    // TestNewNewestFromBranchSelector "success" and "success with since".
    let s = ok(json!({"branch": "main"}));
    assert_eq!(s.branch, "main");
    assert!(!s.is_tag_based());
    let s = ok(json!({"branch": "main", "since": "2024-06-01T00:00:00Z"}));
    assert!(s.since.is_some());
}

fn matches_ref(s: &Selector, r: &str) -> bool {
    s.matches_push(&[r], &[])
}

/// Test_tagBasedSelector_MatchesRef (Lexical and NewestTag use it as is).
#[test]
fn kargo_tag_based_matches_ref() {
    for strategy in ["Lexical", "NewestTag"] {
        let sel = |fields: Value| ok(with_strategy(strategy, fields));
        let cases: [(&str, Value, &str, bool); 7] = [
            ("invalid tag ref", json!({}), "invalid", false),
            ("no regex specified", json!({}), "refs/tags/abc", true),
            (
                "regex matches",
                json!({"allowTagsRegexes": ["[a-z]+"]}),
                "refs/tags/abc",
                true,
            ),
            (
                "regex does not match",
                json!({"allowTagsRegexes": ["[a-z]+"]}),
                "refs/tags/123",
                false,
            ),
            (
                "ignored",
                json!({"ignoreTagsRegexes": ["^abc$"]}),
                "refs/tags/abc",
                false,
            ),
            (
                "not ignored",
                json!({"ignoreTagsRegexes": ["^abc$"]}),
                "refs/tags/123",
                true,
            ),
            (
                "regex matches, but ignored",
                json!({"allowTagsRegexes": ["[a-z]+"], "ignoreTagsRegexes": ["^abc$"]}),
                "refs/tags/abc",
                false,
            ),
        ];
        for (name, fields, r, want) in cases {
            assert_eq!(matches_ref(&sel(fields), r), want, "{strategy}: {name}");
        }
    }
}

/// Test_semVerSelector_MatchesRef.
#[test]
fn kargo_semver_matches_ref() {
    let sel = |fields: Value| ok(with_strategy("SemVer", fields));
    let loose = json!({"strictSemvers": false});
    let cases: [(&str, Value, &str, bool); 9] = [
        ("invalid tag ref", loose.clone(), "invalid", false),
        ("non semver ignored", loose.clone(), "refs/tags/foo", false),
        (
            "non-strict semver ignored",
            json!({"strictSemvers": true}),
            "refs/tags/v1.0",
            false,
        ),
        (
            "no regex specified",
            loose.clone(),
            "refs/tags/v1.0.0",
            true,
        ),
        (
            "regex matches",
            json!({"strictSemvers": false, "allowTagsRegexes": ["^v1\\."]}),
            "refs/tags/v1.0.0",
            true,
        ),
        (
            "regex does not match",
            json!({"strictSemvers": false, "allowTagsRegexes": ["^v1\\."]}),
            "refs/tags/v2.0.0",
            false,
        ),
        (
            "ignored",
            json!({"strictSemvers": false, "ignoreTagsRegexes": ["^v1\\.0\\.0$"]}),
            "refs/tags/v1.0.0",
            false,
        ),
        (
            "not ignored",
            json!({"strictSemvers": false, "ignoreTagsRegexes": ["^v2\\.0\\.0$"]}),
            "refs/tags/v1.0.0",
            true,
        ),
        (
            "regex matches, but ignored",
            json!({"strictSemvers": false, "allowTagsRegexes": ["^v1\\."],
                   "ignoreTagsRegexes": ["^v1\\.0\\.0$"]}),
            "refs/tags/v1.0.0",
            false,
        ),
    ];
    for (name, fields, r, want) in cases {
        assert_eq!(matches_ref(&sel(fields), r), want, "{name}");
    }
    // Without strictSemvers, `v1.0` is a version.
    assert!(matches_ref(&sel(loose), "refs/tags/v1.0"));
}

/// Test_newestFromBranchSelector_MatchesRef.
#[test]
fn kargo_newest_from_branch_matches_ref() {
    let branch = "my-cool-branch";
    let configured = ok(json!({"branch": branch}));
    let default = ok(json!({}));
    let cases: [(&str, &Selector, String, bool); 7] = [
        (
            "input is missing branch prefix",
            &configured,
            branch.to_owned(),
            false,
        ),
        (
            "input has tag prefix",
            &configured,
            format!("refs/tags/{branch}"),
            false,
        ),
        (
            "input doesn't match selector branch",
            &configured,
            "refs/heads/some-other-branch".to_owned(),
            false,
        ),
        (
            "input matches selector branch",
            &configured,
            format!("refs/heads/{branch}"),
            true,
        ),
        (
            "input is main, no branch configured",
            &default,
            "refs/heads/main".to_owned(),
            true,
        ),
        (
            "input is master, no branch configured",
            &default,
            "refs/heads/master".to_owned(),
            true,
        ),
        (
            "input is neither main nor master, no branch configured",
            &default,
            format!("refs/heads/{branch}"),
            false,
        ),
    ];
    for (name, sel, r, want) in cases {
        assert_eq!(matches_ref(sel, &r), want, "{name}");
    }
}

fn refs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, id)| ((*n).to_owned(), (*id).to_owned()))
        .collect()
}

fn observed_tags(pairs: &[(&str, &str)]) -> Option<Observed> {
    Some(Observed::Tags(refs(pairs)))
}

/// Test_tagBasedSelector_ListRefs, Test_semverSelector_ListRefs and
/// Test_newestFromBranchSelector_ListRefs: what a discovery records to
/// compare with the next one.
#[test]
fn kargo_list_refs() {
    // "filters by name and sorts".
    let s = ok(json!({"commitSelectionStrategy": "Lexical", "allowTagsRegexes": ["^v1\\."]}));
    let remote = refs(&[
        ("refs/tags/v1.2.0", "b"),
        ("refs/tags/v0.9.0", "z"),
        ("refs/tags/v1.1.0", "a"),
        ("refs/heads/main", "m"),
    ]);
    assert_eq!(
        s.observe(&remote, Some("main")),
        observed_tags(&[("v1.1.0", "a"), ("v1.2.0", "b")])
    );
    // "tag count over cap suppresses observation": kargo-rs keeps every
    // tag, since the observation lives in memory, not in a Kubernetes
    // object whose size is bounded.
    let many: Vec<(String, String)> = (0..1001)
        .map(|i| (format!("refs/tags/v0.{i}"), i.to_string()))
        .collect();
    let many: BTreeMap<String, String> = many.into_iter().collect();
    match ok(json!({"commitSelectionStrategy": "Lexical"})).observe(&many, None) {
        Some(Observed::Tags(tags)) => assert_eq!(tags.len(), 1001),
        other => panic!("{other:?}"),
    }
    // Semver: only versions satisfying the constraint, sorted by name.
    let s = ok(
        json!({"commitSelectionStrategy": "SemVer", "semverConstraint": ">=1.2.0",
                      "strictSemvers": true}),
    );
    let remote = refs(&[
        ("refs/tags/v1.2.4", "d"),
        ("refs/tags/v1.1.0", "a"),
        ("refs/tags/not-semver", "x"),
        ("refs/tags/v1.2.3", "c"),
    ]);
    assert_eq!(
        s.observe(&remote, None),
        observed_tags(&[("v1.2.3", "c"), ("v1.2.4", "d")])
    );
    // Newest from branch.
    let head = "aa12bb34cc56dd78ee90ff12aabb34ccdd56ee78";
    let main = ok(json!({"branch": "main"}));
    let default = ok(json!({}));
    // "records branch head"
    let remote = refs(&[("refs/heads/main", head), ("refs/heads/other", "x")]);
    assert_eq!(
        main.observe(&remote, Some("main")),
        Some(Observed::BranchHead(head.into()))
    );
    // "unspecified branch resolves HEAD": the remote's default branch,
    // whatever its name.
    let remote = refs(&[("refs/heads/develop", head)]);
    assert_eq!(
        default.observe(&remote, Some("develop")),
        Some(Observed::BranchHead(head.into()))
    );
    // "missing configured branch yields nil observation"
    assert_eq!(main.observe(&BTreeMap::new(), None), None);
    // "unspecified branch with no HEAD yields nil observation"
    assert_eq!(default.observe(&BTreeMap::new(), None), None);
}

fn date(text: &str) -> Timestamp {
    text.parse().expect("a date")
}

fn tag(name: &str) -> TagMeta {
    tag_by(name, "", "2024-01-01T00:00:00Z")
}

fn tag_by(name: &str, author: &str, creator_date: &str) -> TagMeta {
    let creator_date = date(creator_date);
    TagMeta {
        tag: name.to_owned(),
        commit: CommitMeta::for_test(&format!("id-{name}"), author, creator_date),
        creator_date,
        tagger: String::new(),
        annotation: String::new(),
    }
}

fn tags(names: &[&str]) -> Vec<TagMeta> {
    names.iter().map(|n| tag(n)).collect()
}

fn never() -> bool {
    false
}

/// The tags `s` chooses among `tags`, no path touched by any.
fn choose(s: &Selector, tags: Vec<TagMeta>) -> Result<Vec<String>, Error> {
    Ok(s.choose_tags(tags, &mut |_| Ok(Vec::new()), &never)?
        .into_iter()
        .map(|c| c.tag)
        .collect())
}

/// Test_tagBasedSelector_filterTagsByExpression. NewestTag keeps tags of
/// the same date in name order, so the expected lists read as Kargo's.
#[test]
fn kargo_filter_tags_by_expression() {
    let sel = |filter: &str| {
        ok(json!({"commitSelectionStrategy": "NewestTag", "expressionFilter": filter}))
    };
    let cases: [(&str, &str, Vec<TagMeta>, Vec<&str>); 9] = [
        (
            "empty expression returns all tags",
            "",
            tags(&["v1.0.0", "v2.0.0"]),
            vec!["v1.0.0", "v2.0.0"],
        ),
        (
            "boolean expression filters correctly",
            "hasPrefix(tag, 'v1.')",
            tags(&["v1.0.0", "v2.0.0", "v1.2.3"]),
            vec!["v1.0.0", "v1.2.3"],
        ),
        (
            "non-boolean expression converted to boolean",
            "1",
            tags(&["v1.0.0", "v2.0.0"]),
            vec!["v1.0.0", "v2.0.0"],
        ),
        (
            "non-boolean expression false",
            "0",
            tags(&["v1.0.0", "v2.0.0"]),
            vec![],
        ),
        (
            "complex expression with tag metadata",
            "tag contains '1.' && author == 'test-author'",
            vec![
                tag_by("v1.0.0", "test-author", "2024-01-01T00:00:00Z"),
                tag_by("v1.2.3", "other-author", "2024-01-01T00:00:00Z"),
                tag_by("v2.0.0", "test-author", "2024-01-01T00:00:00Z"),
            ],
            vec!["v1.0.0"],
        ),
        (
            // Kargo's own expression, a Go time method on the date.
            "expression with date comparison",
            "creatorDate.Year() >= 2023",
            vec![
                tag_by("v1.0.0", "", "2023-01-01T00:00:00Z"),
                tag_by("v2.0.0", "", "2022-01-01T00:00:00Z"),
            ],
            vec!["v1.0.0"],
        ),
        (
            // The example of Kargo's "Working with Warehouses" guide.
            "a date after date()",
            "creatorDate.After(date('2024-01-01')) && !(tag contains 'alpha')",
            vec![
                tag_by("v1.0.0", "", "2023-06-01T00:00:00Z"),
                tag_by("v2.0.0-alpha", "", "2024-06-01T00:00:00Z"),
                tag_by("v2.0.0", "", "2024-06-01T00:00:00Z"),
            ],
            vec!["v2.0.0"],
        ),
        (
            "dates also compare as RFC 3339 text",
            "creatorDate >= '2023'",
            vec![
                tag_by("v1.0.0", "", "2023-01-01T00:00:00Z"),
                tag_by("v2.0.0", "", "2022-01-01T00:00:00Z"),
            ],
            vec!["v1.0.0"],
        ),
        (
            "tagger and annotation are empty on lightweight tags",
            "tagger == '' && annotation == ''",
            tags(&["v1.0.0"]),
            vec!["v1.0.0"],
        ),
    ];
    for (name, filter, given, want) in cases {
        assert_eq!(choose(&sel(filter), given).unwrap(), want, "{name}");
    }
    // "error parsing non-boolean result"
    match choose(&sel("'invalid'"), tags(&["v1.0.0"])) {
        Err(Error::NotABool { value, .. }) => assert_eq!(value, "invalid"),
        other => panic!("{other:?}"),
    }
}

/// Test_lexicalSelector_Select, Test_newestTagSelector_Select and
/// Test_semverSelector_Select, past cloning and listing.
#[test]
fn kargo_tag_based_select() {
    for strategy in TAG_STRATEGIES {
        let sel = |fields: Value| ok(with_strategy(strategy, fields));
        // "error filtering tags with expression"
        let err = choose(
            &sel(json!({"expressionFilter": "\"invalid\""})),
            tags(&["v1.0.0"]),
        );
        assert!(
            matches!(err, Err(Error::NotABool { .. })),
            "{strategy}: {err:?}"
        );
        // "error filtering tags by diff paths"
        let s = sel(json!({"includePaths": ["apps"]}));
        let err = s.choose_tags(
            tags(&["v1.0.0"]),
            &mut |_| Err(Error::read("", "something went wrong")),
            &never,
        );
        assert!(
            err.is_err_and(|e| e.to_string().contains("something went wrong")),
            "{strategy}"
        );
    }
    let lexical = |fields: Value| ok(with_strategy("Lexical", fields));
    let newest = |fields: Value| ok(with_strategy("NewestTag", fields));
    let semver = |fields: Value| ok(with_strategy("SemVer", fields));
    let alphas = json!({"allowTagsRegexes": ["^[a-zA-Z]+$"]});
    let cases: [(&str, Selector, &[&str], &[&str]); 14] = [
        (
            "lexical: tags not allowed are filtered out",
            lexical(alphas.clone()),
            &["123", "abc"],
            &["abc"],
        ),
        (
            "lexical: ignored tags are filtered out",
            lexical(json!({"ignoreTagsRegexes": ["^123$"]})),
            &["123", "abc"],
            &["abc"],
        ),
        (
            "lexical: ignored tags have precedence over allowed tags",
            lexical(json!({"allowTagsRegexes": ["^[a-zA-Z]+$"], "ignoreTagsRegexes": ["^ABC$"]})),
            &["ABC", "abc"],
            &["abc"],
        ),
        (
            "lexical: tags are correctly sorted",
            lexical(json!({})),
            &["Diana", "Arthur", "Bruce", "Clark", "Alfred"],
            &["Diana", "Clark", "Bruce", "Arthur", "Alfred"],
        ),
        (
            "lexical: results are trimmed to discovery limit",
            lexical(json!({"discoveryLimit": 3})),
            &["Diana", "Arthur", "Bruce", "Clark", "Alfred"],
            &["Diana", "Clark", "Bruce"],
        ),
        (
            "newest: tags not allowed are filtered out",
            newest(alphas.clone()),
            &["123", "abc"],
            &["abc"],
        ),
        (
            "newest: ignored tags are filtered out",
            newest(json!({"ignoreTagsRegexes": ["^123$"]})),
            &["123", "abc"],
            &["abc"],
        ),
        (
            "newest: ignored tags have precedence over allowed tags",
            newest(json!({"allowTagsRegexes": ["^[a-zA-Z]+$"], "ignoreTagsRegexes": ["^ABC$"]})),
            &["ABC", "abc"],
            &["abc"],
        ),
        (
            "newest: results are trimmed to discovery limit",
            newest(json!({"discoveryLimit": 3})),
            &["e", "d", "c", "b", "a"],
            &["a", "b", "c"],
        ),
        (
            "semver: non-semver tags are filtered out",
            semver(json!({})),
            &["foo", "v1.2.3", "bar"],
            &["v1.2.3"],
        ),
        (
            "semver: tags not allowed are filtered out",
            semver(json!({"allowTagsRegexes": ["^v?1\\."]})),
            &["v1.0.0", "v2.0.0", "v3.0.0"],
            &["v1.0.0"],
        ),
        (
            "semver: ignored tags are filtered out",
            semver(json!({"ignoreTagsRegexes": ["^v1\\.0\\.0$"]})),
            &["v1.0.0", "v1.1.0"],
            &["v1.1.0"],
        ),
        (
            "semver: ignored tags have precedence over allowed tags",
            semver(json!({"allowTagsRegexes": ["^v?1\\."], "ignoreTagsRegexes": ["^v1\\.0\\.0$"]})),
            &["v1.1.0", "v1.0.0"],
            &["v1.1.0"],
        ),
        (
            "semver: tags are correctly sorted",
            semver(json!({})),
            &["v3.0.0", "v5.0.0", "v4.0.0", "v1.0.0", "v2.0.0"],
            &["v5.0.0", "v4.0.0", "v3.0.0", "v2.0.0", "v1.0.0"],
        ),
    ];
    for (name, sel, given, want) in cases {
        assert_eq!(choose(&sel, tags(given)).unwrap(), want, "{name}");
    }
    // "semver: results are trimmed to discovery limit"
    assert_eq!(
        choose(
            &semver(json!({"discoveryLimit": 3})),
            tags(&["v3.0.0", "v5.0.0", "v4.0.0", "v1.0.0", "v2.0.0"])
        )
        .unwrap(),
        ["v5.0.0", "v4.0.0", "v3.0.0"]
    );
}

/// Kargo's filterTagsByDiffPaths: tags are looked at best first, those
/// whose commit touches no selected path are skipped, and no more diffs
/// are read once discoveryLimit tags are chosen.
#[test]
fn kargo_filter_tags_by_diff_paths_stops_at_the_limit() {
    let s = ok(
        json!({"commitSelectionStrategy": "Lexical", "includePaths": ["apps"],
                      "discoveryLimit": 2}),
    );
    let mut asked = Vec::new();
    let chosen = s
        .choose_tags(
            tags(&["a", "b", "c", "d", "e"]),
            &mut |commit| {
                asked.push(commit.id.clone());
                Ok(if commit.id == "id-d" {
                    vec!["docs/x".to_owned()]
                } else {
                    vec!["apps/x".to_owned()]
                })
            },
            &never,
        )
        .unwrap();
    let chosen: Vec<&str> = chosen.iter().map(|c| c.tag.as_str()).collect();
    assert_eq!(chosen, ["e", "c"]);
    assert_eq!(asked, ["id-e", "id-d", "id-c"]);
}

/// Test_newestFromBranchSelector_evaluateCommitExpression.
#[test]
fn kargo_evaluate_commit_expression() {
    let commit = |id: &str, author: &str, when: &str, subject: &str| {
        let mut c = CommitMeta::for_test(id, author, date(when));
        c.subject = subject.to_owned();
        c
    };
    let plain = commit("abc", "", "2024-01-01T00:00:00Z", "");
    let cases: [(&str, &str, CommitMeta, bool); 8] = [
        ("boolean true expression", "true", plain.clone(), true),
        ("boolean false expression", "false", plain.clone(), false),
        (
            "expression with commit data",
            "id == 'abc' && author == 'test-author'",
            commit("abc", "test-author", "2024-01-01T00:00:00Z", ""),
            true,
        ),
        (
            "expression with commit data false",
            "id == 'xyz'",
            plain.clone(),
            false,
        ),
        (
            "non-boolean result converted to true",
            "1",
            plain.clone(),
            true,
        ),
        (
            "non-boolean result converted to false",
            "0",
            plain.clone(),
            false,
        ),
        (
            "expression with date comparison",
            "commitDate.Year() >= 2023",
            commit("abc", "", "2023-06-01T00:00:00Z", ""),
            true,
        ),
        (
            "expression with subject matching",
            "subject contains 'fix:'",
            commit(
                "abc",
                "",
                "2024-01-01T00:00:00Z",
                "fix: resolve issue with authentication",
            ),
            true,
        ),
    ];
    for (name, filter, commit, want) in cases {
        let s = ok(json!({"expressionFilter": filter}));
        assert_eq!(s.evaluate(commit_vars(&commit)).unwrap(), want, "{name}");
    }
    // "error parsing non-boolean result"
    let s = ok(json!({"expressionFilter": "'invalid'"}));
    assert!(matches!(
        s.evaluate(commit_vars(&plain)),
        Err(Error::NotABool { .. })
    ));
}

/// TestShortenString.
#[test]
fn kargo_shorten_string() {
    let long = "this is a long string";
    for (name, limit, want) in [
        ("exceeds length", 10, "this is..."),
        ("equal length", 21, long),
        ("shorter length", 30, long),
    ] {
        assert_eq!(shorten(long, limit), want, "{name}");
    }
    assert_eq!(shorten("", 10), "", "empty string");
}
