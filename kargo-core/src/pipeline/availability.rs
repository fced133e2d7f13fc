//! Which Freight a Stage may take (Kargo's `Stage.IsFreightAvailable` in
//! `api/v1alpha1/stage_types.go`).

use crate::model::{AvailabilityStrategy, Freight, FreightRequest, Stage};
use crate::time::Timestamp;

/// Why a piece of Freight is available to a Stage, in the order Kargo
/// checks the reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Availability {
    /// It was manually approved for the Stage.
    Approved,
    /// The Stage takes Freight from its origin directly.
    Direct,
    /// It was verified (and has soaked long enough) in the upstream Stages
    /// the request's availability strategy asks for.
    VerifiedUpstream,
}

/// Whether `freight` is available to `stage` at `now`, and why.
///
/// Kargo's rule: for the Stage's request whose origin is the Freight's
/// origin, the Freight is available when
/// 1. it is approved for the Stage, or
/// 2. the request takes Freight `direct`ly from the origin, or
/// 3. with `availabilityStrategy: All`, it is verified in every upstream
///    Stage of the request and has soaked there for `requiredSoakTime`, or
/// 4. otherwise (`OneOf`, the default), it is verified and soaked in at
///    least one upstream Stage of the request.
///
/// An approval overrides the soak time. Freight of an origin the Stage
/// does not request is never available. Kargo also requires Stage and
/// Freight to be in the same namespace; here a namespace counts only when
/// both have one, so Freight stored without a project matches every Stage.
///
/// ```
/// use kargo_core::model::{Freight, FreightOrigin, FreightRequest, FreightSources, Stage};
/// use kargo_core::pipeline::{availability, Availability};
/// use kargo_core::time::Timestamp;
///
/// let mut prod = Stage::default();
/// prod.metadata.name = "prod".into();
/// prod.spec.requested_freight.push(FreightRequest {
///     origin: FreightOrigin::warehouse("app"),
///     sources: FreightSources { stages: vec!["staging".into()], ..Default::default() },
/// });
/// let mut freight = Freight { origin: FreightOrigin::warehouse("app"), ..Default::default() };
/// let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
/// assert_eq!(availability(&prod, &freight, now), None);
/// freight.status.add_verified_stage("staging", now);
/// assert_eq!(availability(&prod, &freight, now), Some(Availability::VerifiedUpstream));
/// ```
pub fn availability(stage: &Stage, freight: &Freight, now: Timestamp) -> Option<Availability> {
    let (a, b) = (&stage.metadata.namespace, &freight.metadata.namespace);
    if !a.is_empty() && !b.is_empty() && a != b {
        return None;
    }
    stage
        .spec
        .requested_freight
        .iter()
        .filter(|req| req.origin == freight.origin)
        .find_map(|req| request_availability(&stage.metadata.name, req, freight, now))
}

/// Whether `freight` is available to `stage` at `now`: see [`availability`].
pub fn is_freight_available(stage: &Stage, freight: &Freight, now: Timestamp) -> bool {
    availability(stage, freight, now).is_some()
}

/// Whether `freight` is available to the Stage named `stage` through its
/// request `req` at `now`, and why. The origin is not compared: see
/// [`availability`] for the whole rule.
pub fn request_availability(
    stage: &str,
    req: &FreightRequest,
    freight: &Freight,
    now: Timestamp,
) -> Option<Availability> {
    if freight.is_approved_for(stage) {
        return Some(Availability::Approved);
    }
    let sources = &req.sources;
    if sources.direct {
        return Some(Availability::Direct);
    }
    let ok = |upstream: &String| {
        freight.is_verified_in(upstream)
            && freight.has_soaked_in(upstream, sources.required_soak_time, now)
    };
    let available = match sources.availability_strategy {
        AvailabilityStrategy::All => sources.stages.iter().all(ok),
        AvailabilityStrategy::OneOf => sources.stages.iter().any(ok),
    };
    available.then_some(Availability::VerifiedUpstream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::GoDuration;
    use crate::model::{FreightOrigin, FreightSources, FreightStatus};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    fn stage(sources: FreightSources) -> Stage {
        let mut s = Stage::default();
        s.metadata.name = "prod".into();
        s.spec.requested_freight.push(FreightRequest {
            origin: FreightOrigin::warehouse("app"),
            sources,
        });
        s
    }

    fn upstream(
        stages: &[&str],
        strategy: AvailabilityStrategy,
        soak: Option<&str>,
    ) -> FreightSources {
        FreightSources {
            stages: stages.iter().map(|s| s.to_string()).collect(),
            availability_strategy: strategy,
            required_soak_time: soak.map(|s| s.parse::<GoDuration>().expect("duration")),
            ..Default::default()
        }
    }

    fn freight(fill: impl FnOnce(&mut FreightStatus)) -> Freight {
        let mut f = Freight {
            origin: FreightOrigin::warehouse("app"),
            ..Default::default()
        };
        fill(&mut f.status);
        f
    }

    /// Verified in `stage` at 10:00 and still there since 10:00.
    fn soaking(s: &mut FreightStatus, stage: &str) {
        s.add_current_stage(stage, t("2026-01-01T10:00:00Z"));
        s.add_verified_stage(stage, t("2026-01-01T10:00:00Z"));
    }

    #[test]
    fn availability_table() {
        use Availability::*;
        use AvailabilityStrategy::{All, OneOf};
        let at_11 = t("2026-01-01T11:00:00Z");
        struct Case {
            name: &'static str,
            sources: FreightSources,
            freight: Freight,
            want: Option<Availability>,
        }
        let cases = vec![
            Case {
                name: "direct: any Freight of the origin",
                sources: FreightSources {
                    direct: true,
                    ..Default::default()
                },
                freight: freight(|_| {}),
                want: Some(Direct),
            },
            Case {
                name: "not verified upstream",
                sources: upstream(&["staging"], OneOf, None),
                freight: freight(|_| {}),
                want: None,
            },
            Case {
                name: "in upstream but not verified there",
                sources: upstream(&["staging"], OneOf, None),
                freight: freight(|s| s.add_current_stage("staging", t("2026-01-01T00:00:00Z"))),
                want: None,
            },
            Case {
                name: "verified upstream, no soak required",
                sources: upstream(&["staging"], OneOf, None),
                freight: freight(|s| s.add_verified_stage("staging", at_11)),
                want: Some(VerifiedUpstream),
            },
            Case {
                name: "verified in a stage that is not upstream",
                sources: upstream(&["staging"], OneOf, None),
                freight: freight(|s| s.add_verified_stage("qa", at_11)),
                want: None,
            },
            Case {
                name: "soaked 1h of 1h",
                sources: upstream(&["staging"], OneOf, Some("1h")),
                freight: freight(|s| soaking(s, "staging")),
                want: Some(VerifiedUpstream),
            },
            Case {
                name: "soaked 1h of 2h",
                sources: upstream(&["staging"], OneOf, Some("2h")),
                freight: freight(|s| soaking(s, "staging")),
                want: None,
            },
            Case {
                name: "approval overrides the soak time",
                sources: upstream(&["staging"], OneOf, Some("2h")),
                freight: freight(|s| {
                    soaking(s, "staging");
                    s.add_approved_stage("prod", at_11);
                }),
                want: Some(Approved),
            },
            Case {
                name: "approval lets Freight skip the upstream stage",
                sources: upstream(&["staging"], OneOf, None),
                freight: freight(|s| s.add_approved_stage("prod", at_11)),
                want: Some(Approved),
            },
            Case {
                name: "approval for another stage does not count",
                sources: upstream(&["staging"], OneOf, None),
                freight: freight(|s| s.add_approved_stage("staging", at_11)),
                want: None,
            },
            Case {
                name: "OneOf: verified in one of two",
                sources: upstream(&["a", "b"], OneOf, None),
                freight: freight(|s| s.add_verified_stage("b", at_11)),
                want: Some(VerifiedUpstream),
            },
            Case {
                name: "All: verified in one of two",
                sources: upstream(&["a", "b"], All, None),
                freight: freight(|s| s.add_verified_stage("b", at_11)),
                want: None,
            },
            Case {
                name: "All: verified in both",
                sources: upstream(&["a", "b"], All, None),
                freight: freight(|s| {
                    s.add_verified_stage("a", at_11);
                    s.add_verified_stage("b", at_11);
                }),
                want: Some(VerifiedUpstream),
            },
            Case {
                name: "All: verified in both, soaked in one",
                sources: upstream(&["a", "b"], All, Some("30m")),
                freight: freight(|s| {
                    soaking(s, "a");
                    s.add_verified_stage("b", t("2026-01-01T10:59:00Z"));
                    s.add_current_stage("b", t("2026-01-01T10:59:00Z"));
                }),
                want: None,
            },
            Case {
                name: "OneOf: verified in both, soaked in one",
                sources: upstream(&["a", "b"], OneOf, Some("30m")),
                freight: freight(|s| {
                    soaking(s, "a");
                    s.add_verified_stage("b", t("2026-01-01T10:59:00Z"));
                    s.add_current_stage("b", t("2026-01-01T10:59:00Z"));
                }),
                want: Some(VerifiedUpstream),
            },
            Case {
                name: "a completed soak shorter than required does not count",
                sources: upstream(&["staging"], OneOf, Some("1h")),
                freight: freight(|s| {
                    soaking(s, "staging");
                    s.remove_current_stage("staging", t("2026-01-01T10:30:00Z"));
                }),
                want: None,
            },
            Case {
                name: "a completed soak long enough counts after the Freight left",
                sources: upstream(&["staging"], OneOf, Some("20m")),
                freight: freight(|s| {
                    soaking(s, "staging");
                    s.remove_current_stage("staging", t("2026-01-01T10:30:00Z"));
                }),
                want: Some(VerifiedUpstream),
            },
        ];
        for case in cases {
            let got = availability(&stage(case.sources), &case.freight, at_11);
            assert_eq!(got, case.want, "{}", case.name);
        }
    }

    #[test]
    fn freight_of_another_origin_is_never_available() {
        let s = stage(FreightSources {
            direct: true,
            ..Default::default()
        });
        let mut f = freight(|st| st.add_approved_stage("prod", t("2026-01-01T00:00:00Z")));
        f.origin = FreightOrigin::warehouse("other");
        assert!(!is_freight_available(&s, &f, t("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn namespaces_must_match_when_both_are_set() {
        let now = t("2026-01-01T00:00:00Z");
        let mut s = stage(FreightSources {
            direct: true,
            ..Default::default()
        });
        let mut f = freight(|_| {});
        s.metadata.namespace = "a".into();
        assert!(is_freight_available(&s, &f, now), "Freight without project");
        f.metadata.namespace = "b".into();
        assert!(!is_freight_available(&s, &f, now), "other project");
        f.metadata.namespace = "a".into();
        assert!(is_freight_available(&s, &f, now), "same project");
    }
}
