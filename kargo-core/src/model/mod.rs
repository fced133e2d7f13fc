//! Kargo's `kargo.akuity.io/v1alpha1` resources, with Kargo's field names.
//!
//! Every type serializes exactly as Kargo's API does (camelCase, `repoURL`,
//! `subscriptionName`, `insecureSkipTLSVerify`, ...), so manifests and
//! Freight documents written for Kargo load unchanged.
//!
//! - [`Warehouse`] with its [`RepoSubscription`]s (Git, image, chart, generic);
//! - [`Freight`], whose [`id`](Freight::id) is Kargo's;
//! - [`Stage`] with its [`FreightRequest`]s, [`PromotionTemplate`] and
//!   [`Verification`];
//! - [`PromotionTask`] and [`ClusterPromotionTask`];
//! - [`Promotion`] with its phase and step statuses;
//! - [`Project`] and [`ProjectConfig`] with their [`PromotionPolicy`]s;
//! - [`AnalysisTemplate`], kargo-rs's stand-in for Argo Rollouts' analysis
//!   templates, which Stages' verification refers to.
//!
//! Specs reject unknown fields, as Kargo's schemas do, so a misspelled field
//! fails instead of being ignored. Metadata accepts (and drops) the fields a
//! cluster adds, and a top-level `status` is accepted. Defaults that Kargo's
//! CRDs apply (`discoveryLimit: 20`, `interval: 5m0s`, ...) are applied when
//! reading.

mod analysis;
mod freight;
mod meta;
mod project;
mod promotion;
mod promotion_state;
mod promotion_task;
mod stage;
mod warehouse;

pub use analysis::{AnalysisTemplate, AnalysisTemplateSpec};
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
pub use promotion_state::{PromotionState, StepRecord};
pub use promotion_task::{ClusterPromotionTask, PromotionTask, PromotionTaskSpec};
pub use stage::{
    AnalysisRunArgument, AnalysisRunMetadata, AnalysisTemplateReference, AutoPromotionOptions,
    AutoPromotionSelectionPolicy, AvailabilityStrategy, FreightRequest, FreightSources,
    LabelSelector, LabelSelectorRequirement, PromotionTemplate, Stage, StageSpec, StageTargets,
    Verification,
};
pub use warehouse::{
    ChartSubscription, CommitSelectionStrategy, DEFAULT_INTERVAL, FreightCreationCriteria,
    FreightCreationPolicy, GitSubscription, ImageSelectionStrategy, ImageSubscription,
    RepoSubscription, Subscription, SubscriptionSource, Warehouse, WarehouseSpec,
};

/// The API version of every Kargo resource: `kargo.akuity.io/v1alpha1`.
pub const API_VERSION: &str = "kargo.akuity.io/v1alpha1";
