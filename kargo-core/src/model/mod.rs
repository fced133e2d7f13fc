//! Kargo's `kargo.akuity.io/v1alpha1` resources, with Kargo's field names.
//!
//! Every type serializes exactly as Kargo's API does (camelCase, `repoURL`,
//! `subscriptionName`, ...), so manifests and Freight documents written for
//! Kargo load unchanged.

mod freight;
mod meta;
mod promotion;

pub use freight::{
    ApprovedStage, ArtifactReference, Chart, CurrentStage, Freight, FreightCollection,
    FreightOrigin, FreightOriginKind, FreightStatus, GitCommit, Image, VerifiedStage,
};
pub use meta::ObjectMeta;
pub use promotion::{
    ExpressionVariable, PromotionPhase, PromotionStep, PromotionStepRetry, PromotionTaskReference,
    PromotionTemplateSpec, StepStatus,
};

/// The API version of every Kargo resource: `kargo.akuity.io/v1alpha1`.
pub const API_VERSION: &str = "kargo.akuity.io/v1alpha1";
