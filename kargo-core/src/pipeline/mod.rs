//! Stages as a pipeline: Kargo's rules for how Freight moves from
//! Warehouses through Stages. Pure logic, no I/O, and no clock: every rule
//! that depends on time takes `now` as a [`Timestamp`](crate::time::Timestamp).
//!
//! - [`StageGraph`]: the Stages of a project from manifests, in flow
//!   order; cycles, unknown Stages and Warehouses are rejected by name.
//! - [`availability`]: whether Freight is available to a Stage (approved,
//!   `direct`, or verified and soaked upstream under `OneOf` / `All`).
//! - Freight status: `Freight::{is_currently_in, is_verified_in,
//!   is_approved_for, longest_soak, has_soaked_in}` and
//!   `FreightStatus::{add_current_stage, remove_current_stage,
//!   add_verified_stage, add_approved_stage}`, plus [`record_promotion`].
//! - Auto-promotion: [`auto_promotion_candidates`] (NewestFreight /
//!   MatchUpstream), [`auto_promotion_decision`], [`hold_intent`].
//! - [`plan`]: one scheduling pass over a whole pipeline.
//! - [`alias`]: generating and checking Freight aliases.
//! - Verification: the [`Verifier`] trait, its built-ins ([`StepsVerifier`],
//!   [`CommandVerifier`]), [`stage_verification`] resolving a Stage's
//!   `spec.verification` to kargo-rs `AnalysisTemplate`s, and
//!   [`run_verification`] recording the outcome.

pub mod alias;
mod auto;
mod availability;
mod graph;
mod schedule;
mod status;
mod verify;

pub use auto::{
    AutoPromotionBlock, HoldIntent, auto_promotion_candidates, auto_promotion_decision,
    discovered_at, hold_intent,
};
pub use availability::{Availability, availability, is_freight_available, request_availability};
pub use graph::{GraphError, Problem, StageGraph};
pub use schedule::{
    BlockedCandidate, Plan, PlannedPromotion, PlannedVerification, StageView, plan,
};
pub use status::record_promotion;
pub use verify::{
    AllVerifiers, CommandVerifier, DynVerifier, StageVerification, StepsVerifier,
    VerificationOutcome, Verifier, run_verification, stage_verification, template_verifier,
};
