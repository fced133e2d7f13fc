//! Auto-promotion: which Freight a Stage would take next from each origin,
//! and whether to promote it now (Kargo's `SelectAutoPromotionCandidates`
//! in `pkg/api/auto_promotion.go`, the checks of the Stage controller's
//! `autoPromoteFreight`, and the hold intents of the Promotion webhook).

use std::collections::BTreeMap;

use super::availability::request_availability;
use crate::model::{AutoPromotionSelectionPolicy, Freight, FreightOrigin, PromotionPhase, Stage};
use crate::time::Timestamp;

/// When the Freight was discovered: `discoveredAt`, else the creation
/// time (Kargo's `EffectiveDiscoveredAt`); `None` when neither is set.
pub fn discovered_at(freight: &Freight) -> Option<Timestamp> {
    freight
        .discovered_at
        .as_deref()
        .or(freight.metadata.creation_timestamp.as_deref())
        .and_then(|s| s.parse().ok())
}

/// The Freight auto-promotion would pick for `stage`, per requested origin,
/// out of `freight` at `now`.
///
/// For each request, the candidates are the Freight of its origin that is
/// [available](super::availability) through the request. With
/// `selectionPolicy: MatchUpstream` only Freight currently in the (single)
/// upstream Stage counts, and when more than one piece is there (a
/// promotion is just moving it) the origin has no candidate this time.
/// The pick is the newest by [`discovered_at`], ties broken by the larger
/// name, as Kargo sorts.
///
/// Selection is all this does: [`auto_promotion_decision`] says whether
/// to promote the pick.
pub fn auto_promotion_candidates<'a>(
    stage: &Stage,
    freight: impl IntoIterator<Item = &'a Freight>,
    now: Timestamp,
) -> BTreeMap<FreightOrigin, &'a Freight> {
    let name = stage.metadata.name.as_str();
    let reqs = &stage.spec.requested_freight;
    // Per request: the best so far with its sort key, and how many matched.
    let mut best: Vec<Option<(Option<Timestamp>, String, &'a Freight)>> = vec![None; reqs.len()];
    let mut count = vec![0usize; reqs.len()];
    for f in freight {
        let Some(i) = reqs.iter().position(|r| r.origin == f.origin) else {
            continue;
        };
        let req = &reqs[i];
        let match_upstream = match_upstream(req);
        if let Some(up) = match_upstream
            && !f.is_currently_in(up)
        {
            continue;
        }
        if request_availability(name, req, f, now).is_none() {
            continue;
        }
        count[i] += 1;
        let key = (discovered_at(f), f.name());
        let newer = best[i]
            .as_ref()
            .is_none_or(|(t, n, _)| (key.0, &key.1) > (*t, n));
        if newer {
            best[i] = Some((key.0, key.1, f));
        }
    }
    let mut out = BTreeMap::new();
    for (i, req) in reqs.iter().enumerate() {
        if match_upstream(req).is_some() && count[i] > 1 {
            continue;
        }
        if let Some((_, _, f)) = best[i].take() {
            out.insert(req.origin.clone(), f);
        }
    }
    out
}

/// The upstream Stage of a `MatchUpstream` request.
fn match_upstream(req: &crate::model::FreightRequest) -> Option<&str> {
    let policy = req
        .sources
        .auto_promotion_options
        .as_ref()?
        .selection_policy;
    (policy == AutoPromotionSelectionPolicy::MatchUpstream)
        .then(|| req.sources.stages.first().map(String::as_str))
        .flatten()
}

/// Why auto-promotion leaves a candidate alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AutoPromotionBlock {
    /// A person promoted other Freight of this origin: auto-promotion is
    /// held until the candidate is promoted by hand.
    Held,
    /// The candidate is the Stage's current Freight already.
    AlreadyCurrent,
    /// A promotion of the candidate into the Stage is queued or running.
    InFlight,
    /// The last finished promotion of the candidate into the Stage did not
    /// succeed; trying again would loop.
    LastAttemptFailed,
}

/// Whether to auto-promote `candidate` into a Stage now.
///
/// `current` is the Stage's Freight of the candidate's origin, `held`
/// whether the origin has an auto-promotion hold, and `promotions` the
/// phases of the Stage's promotions of the candidate, oldest first.
/// The checks are Kargo's, in its order.
pub fn auto_promotion_decision(
    candidate: &str,
    current: Option<&str>,
    held: bool,
    promotions: impl IntoIterator<Item = PromotionPhase>,
) -> Result<(), AutoPromotionBlock> {
    if held {
        return Err(AutoPromotionBlock::Held);
    }
    if current == Some(candidate) {
        return Err(AutoPromotionBlock::AlreadyCurrent);
    }
    let mut last_terminal = None;
    for phase in promotions {
        if !phase.is_terminal() {
            return Err(AutoPromotionBlock::InFlight);
        }
        last_terminal = Some(phase);
    }
    match last_terminal {
        Some(phase) if phase != PromotionPhase::Succeeded => {
            Err(AutoPromotionBlock::LastAttemptFailed)
        }
        _ => Ok(()),
    }
}

/// What a person's promotion says about auto-promotion of its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HoldIntent {
    /// Hold auto-promotion: the person chose other Freight than the
    /// candidate (a rollback, a pin), or there is no candidate yet.
    Hold,
    /// Resume auto-promotion: the person promoted the candidate.
    Resume,
}

/// The hold intent of a promotion of `promoted` that a person asked for
/// (Kargo's Promotion webhook; auto-promotions carry none). Without
/// auto-promotion for the Stage there is none either.
pub fn hold_intent(
    auto_promotion_enabled: bool,
    candidate: Option<&str>,
    promoted: &str,
) -> Option<HoldIntent> {
    if !auto_promotion_enabled {
        return None;
    }
    Some(if candidate == Some(promoted) {
        HoldIntent::Resume
    } else {
        HoldIntent::Hold
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AutoPromotionOptions, FreightRequest, FreightSources, Image};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    fn freight(warehouse: &str, tag: &str, discovered: &str) -> Freight {
        Freight {
            origin: FreightOrigin::warehouse(warehouse),
            discovered_at: Some(discovered.into()),
            images: vec![Image {
                repo_url: "nginx".into(),
                tag: tag.into(),
                ..Default::default()
            }],
            ..Default::default()
        }
        .with_generated_name()
    }

    fn stage(reqs: Vec<(&str, FreightSources)>) -> Stage {
        let mut s = Stage::default();
        s.metadata.name = "next".into();
        for (w, sources) in reqs {
            s.spec.requested_freight.push(FreightRequest {
                origin: FreightOrigin::warehouse(w),
                sources,
            });
        }
        s
    }

    fn direct() -> FreightSources {
        FreightSources {
            direct: true,
            ..Default::default()
        }
    }

    fn match_upstream(up: &str) -> FreightSources {
        FreightSources {
            stages: vec![up.into()],
            auto_promotion_options: Some(AutoPromotionOptions {
                selection_policy: AutoPromotionSelectionPolicy::MatchUpstream,
            }),
            ..Default::default()
        }
    }

    fn tags(c: &BTreeMap<FreightOrigin, &Freight>) -> Vec<(String, String)> {
        c.iter()
            .map(|(o, f)| (o.name.clone(), f.images[0].tag.clone()))
            .collect()
    }

    #[test]
    fn newest_freight_per_origin() {
        let now = t("2026-01-01T12:00:00Z");
        let all = [
            freight("app", "v1", "2026-01-01T09:00:00Z"),
            freight("app", "v3", "2026-01-01T11:00:00Z"),
            freight("app", "v2", "2026-01-01T10:00:00Z"),
            freight("cfg", "c1", "2026-01-01T08:00:00Z"),
            freight("other", "o9", "2026-01-01T11:30:00Z"),
        ];
        let s = stage(vec![("app", direct()), ("cfg", direct())]);
        assert_eq!(
            tags(&auto_promotion_candidates(&s, &all, now)),
            [("app".into(), "v3".into()), ("cfg".into(), "c1".into())]
        );
    }

    #[test]
    fn only_available_freight_is_a_candidate() {
        let now = t("2026-01-01T12:00:00Z");
        let mut verified = freight("app", "v1", "2026-01-01T09:00:00Z");
        verified.status.add_verified_stage("dev", now);
        let newer_unverified = freight("app", "v2", "2026-01-01T10:00:00Z");
        let s = stage(vec![(
            "app",
            FreightSources {
                stages: vec!["dev".into()],
                ..Default::default()
            },
        )]);
        let all = [verified, newer_unverified];
        assert_eq!(
            tags(&auto_promotion_candidates(&s, &all, now)),
            [("app".into(), "v1".into())]
        );
    }

    #[test]
    fn ties_break_on_the_larger_name() {
        let now = t("2026-01-01T12:00:00Z");
        let a = freight("app", "a", "2026-01-01T09:00:00Z");
        let b = freight("app", "b", "2026-01-01T09:00:00Z");
        let want = if a.metadata.name > b.metadata.name {
            "a"
        } else {
            "b"
        };
        let s = stage(vec![("app", direct())]);
        for all in [[a.clone(), b.clone()], [b, a]] {
            let c = auto_promotion_candidates(&s, &all, now);
            assert_eq!(c[&FreightOrigin::warehouse("app")].images[0].tag, want);
        }
    }

    #[test]
    fn match_upstream_takes_what_is_in_the_upstream_stage() {
        let now = t("2026-01-01T12:00:00Z");
        let mut old = freight("app", "v1", "2026-01-01T09:00:00Z");
        old.status.add_verified_stage("dev", now);
        old.status.add_current_stage("dev", now);
        let mut newer = freight("app", "v2", "2026-01-01T10:00:00Z");
        newer.status.add_verified_stage("dev", now);
        let s = stage(vec![("app", match_upstream("dev"))]);
        let all = [old.clone(), newer.clone()];
        assert_eq!(
            tags(&auto_promotion_candidates(&s, &all, now)),
            [("app".into(), "v1".into())],
            "the older Freight is in dev, the newer one left it"
        );

        // Both in dev for a moment: no candidate.
        newer.status.add_current_stage("dev", now);
        let all = [old, newer];
        assert!(auto_promotion_candidates(&s, &all, now).is_empty());
    }

    #[test]
    fn decision_table() {
        use AutoPromotionBlock::*;
        use PromotionPhase::*;
        type Case = (
            &'static str,
            Option<&'static str>,
            bool,
            Vec<PromotionPhase>,
            Result<(), AutoPromotionBlock>,
        );
        let cases: Vec<Case> = vec![
            ("new candidate", Some("old"), false, vec![], Ok(())),
            ("empty stage", None, false, vec![], Ok(())),
            ("held", None, true, vec![], Err(Held)),
            (
                "already current",
                Some("c"),
                false,
                vec![],
                Err(AlreadyCurrent),
            ),
            ("queued", Some("old"), false, vec![Pending], Err(InFlight)),
            (
                "running",
                Some("old"),
                false,
                vec![Failed, Running],
                Err(InFlight),
            ),
            (
                "last failed",
                Some("old"),
                false,
                vec![Succeeded, Failed],
                Err(LastAttemptFailed),
            ),
            (
                "last errored",
                Some("old"),
                false,
                vec![Errored],
                Err(LastAttemptFailed),
            ),
            (
                "last aborted",
                Some("old"),
                false,
                vec![Aborted],
                Err(LastAttemptFailed),
            ),
            (
                "succeeded before, since rolled back",
                Some("old"),
                false,
                vec![Failed, Succeeded],
                Ok(()),
            ),
        ];
        for (name, current, held, phases, want) in cases {
            assert_eq!(
                auto_promotion_decision("c", current, held, phases),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn hold_intents() {
        assert_eq!(hold_intent(false, Some("a"), "b"), None);
        assert_eq!(hold_intent(true, Some("a"), "a"), Some(HoldIntent::Resume));
        assert_eq!(hold_intent(true, Some("a"), "b"), Some(HoldIntent::Hold));
        assert_eq!(hold_intent(true, None, "b"), Some(HoldIntent::Hold));
    }
}
