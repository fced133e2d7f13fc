//! Kargo's bookkeeping of where Freight is, where it was verified, and
//! what it is approved for (the methods of `Freight` and `FreightStatus`
//! in Kargo's `api/v1alpha1/freight_types.go`).
//!
//! Times are passed in, never read from the clock, so every rule can be
//! tested with fixed [`Timestamp`]s.

use std::time::Duration;

use crate::duration::GoDuration;
use crate::model::{ApprovedStage, CurrentStage, Freight, FreightStatus, VerifiedStage};
use crate::time::Timestamp;

impl Freight {
    /// Whether the Freight is currently in `stage`.
    pub fn is_currently_in(&self, stage: &str) -> bool {
        self.status.currently_in.contains_key(stage)
    }

    /// Whether the Freight was verified in `stage`.
    pub fn is_verified_in(&self, stage: &str) -> bool {
        self.status.verified_in.contains_key(stage)
    }

    /// Whether the Freight was manually approved for `stage`.
    pub fn is_approved_for(&self, stage: &str) -> bool {
        self.status.approved_for.contains_key(stage)
    }

    /// How long the Freight has soaked in `stage` at `now` (Kargo's
    /// `GetLongestSoak`): zero unless it was verified there; otherwise the
    /// longer of its longest completed soak and, while it is still in the
    /// stage, the time since it entered.
    pub fn longest_soak(&self, stage: &str, now: Timestamp) -> Duration {
        let Some(verified) = self.status.verified_in.get(stage) else {
            return Duration::ZERO;
        };
        let completed = verified
            .longest_soak
            .as_deref()
            .and_then(|s| s.parse::<GoDuration>().ok())
            .map(GoDuration::as_duration)
            .unwrap_or_default();
        let current = self
            .status
            .currently_in
            .get(stage)
            .and_then(CurrentStage::since_timestamp)
            .map(|since| now.since(since))
            .unwrap_or_default();
        completed.max(current)
    }

    /// Whether the Freight has soaked in `stage` for at least `required`
    /// at `now` (Kargo's `HasSoakedIn`). Without a requirement it has.
    pub fn has_soaked_in(&self, stage: &str, required: Option<GoDuration>, now: Timestamp) -> bool {
        match required {
            None => true,
            Some(required) => self.longest_soak(stage, now) >= required.as_duration(),
        }
    }
}

impl CurrentStage {
    /// `since` as a [`Timestamp`], when it is set and valid.
    pub fn since_timestamp(&self) -> Option<Timestamp> {
        self.since.as_deref().and_then(|s| s.parse().ok())
    }
}

impl FreightStatus {
    /// Records that the Freight entered `stage` at `since`; nothing changes
    /// when it is already there (Kargo's `AddCurrentStage`).
    pub fn add_current_stage(&mut self, stage: &str, since: Timestamp) {
        self.currently_in
            .entry(stage.to_owned())
            .or_insert_with(|| CurrentStage {
                since: Some(since.to_string()),
            });
    }

    /// Records that the Freight left `stage` at `now` (Kargo's
    /// `RemoveCurrentStage`). When it was verified there, the soak that
    /// just ended becomes `verifiedIn[stage].longestSoak` if it is longer
    /// than the one on record.
    pub fn remove_current_stage(&mut self, stage: &str, now: Timestamp) {
        let Some(record) = self.currently_in.remove(stage) else {
            return;
        };
        let Some(since) = record.since_timestamp() else {
            return;
        };
        let soak = now.since(since);
        if let Some(verified) = self.verified_in.get_mut(stage) {
            let longer = verified
                .longest_soak
                .as_deref()
                .and_then(|s| s.parse::<GoDuration>().ok())
                .is_none_or(|old| soak > old.as_duration());
            if longer {
                verified.longest_soak = Some(GoDuration::new(soak).to_string());
            }
        }
    }

    /// Records that the Freight was verified in `stage` at `verified_at`;
    /// a verification on record is kept (Kargo's `AddVerifiedStage`).
    pub fn add_verified_stage(&mut self, stage: &str, verified_at: Timestamp) {
        self.verified_in
            .entry(stage.to_owned())
            .or_insert_with(|| VerifiedStage {
                verified_at: Some(verified_at.to_string()),
                longest_soak: None,
            });
    }

    /// Records that the Freight was approved for `stage` at `approved_at`;
    /// an approval on record is kept (Kargo's `AddApprovedStage`).
    pub fn add_approved_stage(&mut self, stage: &str, approved_at: Timestamp) {
        self.approved_for
            .entry(stage.to_owned())
            .or_insert_with(|| ApprovedStage {
                approved_at: Some(approved_at.to_string()),
            });
    }
}

/// Moves a stage's Freight of one origin from `outgoing` to `incoming` at
/// `now`, as Kargo's stage controller does after a successful promotion:
/// the incoming Freight is now in the stage (since `now`, unless it already
/// was), the outgoing one is not, and the soak that ended is recorded in
/// its `verifiedIn[stage].longestSoak`.
///
/// Promoting the Freight that is already there (`outgoing` is `None` or the
/// same Freight) changes nothing, so a re-promotion does not restart the
/// soak.
pub fn record_promotion(
    stage: &str,
    incoming: &mut FreightStatus,
    outgoing: Option<&mut FreightStatus>,
    now: Timestamp,
) {
    if let Some(outgoing) = outgoing {
        outgoing.remove_current_stage(stage, now);
    }
    incoming.add_current_stage(stage, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    fn d(s: &str) -> GoDuration {
        s.parse().expect("valid duration")
    }

    fn freight_with(fill: impl FnOnce(&mut FreightStatus)) -> Freight {
        let mut f = Freight::default();
        fill(&mut f.status);
        f
    }

    #[test]
    fn longest_soak_table() {
        let now = t("2026-01-01T12:00:00Z");
        struct Case {
            name: &'static str,
            freight: Freight,
            want: Duration,
        }
        let cases = [
            Case {
                name: "not verified: zero even while in the stage",
                freight: freight_with(|s| s.add_current_stage("dev", t("2026-01-01T10:00:00Z"))),
                want: Duration::ZERO,
            },
            Case {
                name: "verified and still in: time since it entered",
                freight: freight_with(|s| {
                    s.add_current_stage("dev", t("2026-01-01T10:00:00Z"));
                    s.add_verified_stage("dev", t("2026-01-01T10:05:00Z"));
                }),
                want: Duration::from_secs(2 * 3600),
            },
            Case {
                name: "verified and gone: the completed soak on record",
                freight: freight_with(|s| {
                    s.verified_in.insert(
                        "dev".into(),
                        VerifiedStage {
                            verified_at: None,
                            longest_soak: Some("45m0s".into()),
                        },
                    );
                }),
                want: Duration::from_secs(45 * 60),
            },
            Case {
                name: "back in the stage: the longer of completed and current",
                freight: freight_with(|s| {
                    s.add_current_stage("dev", t("2026-01-01T11:50:00Z"));
                    s.verified_in.insert(
                        "dev".into(),
                        VerifiedStage {
                            verified_at: None,
                            longest_soak: Some("45m0s".into()),
                        },
                    );
                }),
                want: Duration::from_secs(45 * 60),
            },
            Case {
                name: "other stage's soak does not count",
                freight: freight_with(|s| {
                    s.add_current_stage("qa", t("2026-01-01T00:00:00Z"));
                    s.add_verified_stage("qa", t("2026-01-01T00:00:00Z"));
                    s.add_verified_stage("dev", t("2026-01-01T00:00:00Z"));
                }),
                want: Duration::ZERO,
            },
        ];
        for case in cases {
            assert_eq!(
                case.freight.longest_soak("dev", now),
                case.want,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn has_soaked_in_compares_with_the_requirement() {
        let f = freight_with(|s| {
            s.add_current_stage("dev", t("2026-01-01T10:00:00Z"));
            s.add_verified_stage("dev", t("2026-01-01T10:00:00Z"));
        });
        let now = t("2026-01-01T11:00:00Z");
        assert!(f.has_soaked_in("dev", None, now), "no requirement");
        assert!(f.has_soaked_in("dev", Some(d("1h")), now), "exactly 1h");
        assert!(
            !f.has_soaked_in("dev", Some(d("1h0m1s")), now),
            "one second short"
        );
        assert!(!f.has_soaked_in("qa", Some(d("1s")), now), "never there");
        assert!(
            f.has_soaked_in("qa", None, now),
            "no requirement, never there"
        );
    }

    #[test]
    fn add_current_stage_keeps_the_first_since() {
        let mut s = FreightStatus::default();
        s.add_current_stage("dev", t("2026-01-01T10:00:00Z"));
        s.add_current_stage("dev", t("2026-01-01T11:00:00Z"));
        assert_eq!(
            s.currently_in["dev"].since.as_deref(),
            Some("2026-01-01T10:00:00Z")
        );
    }

    #[test]
    fn leaving_a_verified_stage_records_the_longest_soak() {
        let mut s = FreightStatus::default();
        s.add_current_stage("dev", t("2026-01-01T10:00:00Z"));
        s.add_verified_stage("dev", t("2026-01-01T10:01:00Z"));
        s.remove_current_stage("dev", t("2026-01-01T11:30:00Z"));
        assert!(!s.currently_in.contains_key("dev"));
        assert_eq!(
            s.verified_in["dev"].longest_soak.as_deref(),
            Some("1h30m0s")
        );

        // A shorter second stay keeps the longer record.
        s.add_current_stage("dev", t("2026-01-02T10:00:00Z"));
        s.remove_current_stage("dev", t("2026-01-02T10:10:00Z"));
        assert_eq!(
            s.verified_in["dev"].longest_soak.as_deref(),
            Some("1h30m0s")
        );

        // A longer third stay replaces it.
        s.add_current_stage("dev", t("2026-01-03T10:00:00Z"));
        s.remove_current_stage("dev", t("2026-01-03T12:00:00Z"));
        assert_eq!(s.verified_in["dev"].longest_soak.as_deref(), Some("2h0m0s"));
    }

    #[test]
    fn leaving_an_unverified_stage_records_no_soak() {
        let mut s = FreightStatus::default();
        s.add_current_stage("dev", t("2026-01-01T10:00:00Z"));
        s.remove_current_stage("dev", t("2026-01-01T11:00:00Z"));
        assert!(s.currently_in.is_empty());
        assert!(s.verified_in.is_empty());
    }

    #[test]
    fn verification_and_approval_keep_the_first_time() {
        let mut s = FreightStatus::default();
        s.add_verified_stage("dev", t("2026-01-01T10:00:00Z"));
        s.add_verified_stage("dev", t("2026-01-01T11:00:00Z"));
        s.add_approved_stage("prod", t("2026-01-01T10:00:00Z"));
        s.add_approved_stage("prod", t("2026-01-01T11:00:00Z"));
        assert_eq!(
            s.verified_in["dev"].verified_at.as_deref(),
            Some("2026-01-01T10:00:00Z")
        );
        assert_eq!(
            s.approved_for["prod"].approved_at.as_deref(),
            Some("2026-01-01T10:00:00Z")
        );
    }

    #[test]
    fn record_promotion_moves_the_stage_and_keeps_the_soak() {
        let mut old = FreightStatus::default();
        old.add_current_stage("dev", t("2026-01-01T10:00:00Z"));
        old.add_verified_stage("dev", t("2026-01-01T10:00:00Z"));
        let mut new = FreightStatus::default();
        record_promotion("dev", &mut new, Some(&mut old), t("2026-01-01T13:00:00Z"));
        assert!(!old.currently_in.contains_key("dev"));
        assert_eq!(
            old.verified_in["dev"].longest_soak.as_deref(),
            Some("3h0m0s")
        );
        assert_eq!(
            new.currently_in["dev"].since.as_deref(),
            Some("2026-01-01T13:00:00Z")
        );
    }
}
