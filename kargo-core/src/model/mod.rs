//! Kargo's `kargo.akuity.io/v1alpha1` resources, with Kargo's field names.
//!
//! Every type serializes exactly as Kargo's API does (camelCase, `repoURL`,
//! `subscriptionName`, ...), so manifests and Freight documents written for
//! Kargo load unchanged.

mod freight;
mod meta;
mod project;
mod promotion;
mod promotion_task;
mod stage;
mod warehouse;

pub use freight::{
    ApprovedStage, ArtifactReference, Chart, CurrentStage, Freight, FreightCollection,
    FreightOrigin, FreightOriginKind, FreightStatus, GitCommit, Image, VerifiedStage,
};
pub use meta::ObjectMeta;
pub use project::{
    AutoRollbackConfig, DeepLink, PolicyError, Project, ProjectConfig, ProjectConfigSpec,
    ProjectSpec, PromotionPolicy, PromotionPolicySelector,
};
pub use promotion::{
    ExpressionVariable, Promotion, PromotionPhase, PromotionSpec, PromotionStatus, PromotionStep,
    PromotionStepRetry, PromotionTaskReference, PromotionTemplateSpec, StepExecutionMetadata,
    StepStatus,
};
pub use promotion_task::{ClusterPromotionTask, PromotionTask, PromotionTaskSpec};
pub use stage::{
    AnalysisRunArgument, AnalysisRunMetadata, AnalysisTemplateReference, AutoPromotionOptions,
    AutoPromotionSelectionPolicy, AvailabilityStrategy, FreightRequest, FreightSources,
    LabelSelector, LabelSelectorRequirement, PromotionTemplate, Stage, StageSpec, StageTargets,
    Verification,
};
pub use warehouse::{
    ChartSubscription, CommitSelectionStrategy, FreightCreationCriteria, FreightCreationPolicy,
    GitSubscription, ImageSelectionStrategy, ImageSubscription, RepoSubscription, Subscription,
    SubscriptionSource, Warehouse, WarehouseSpec,
};

/// The API version of every Kargo resource: `kargo.akuity.io/v1alpha1`.
pub const API_VERSION: &str = "kargo.akuity.io/v1alpha1";
