//! [`Checkpoint`]: where the engine saves a promotion's progress after
//! every step. The engine calls it and stores implement it
//! ([`StoreCheckpoint`](crate::state::StoreCheckpoint)), so it sits apart
//! from both.

use async_trait::async_trait;

use crate::Result;
use crate::model::PromotionState;

/// Where the engine saves a promotion's state after every step.
///
/// # Contract
/// `save` must be durable when it returns `Ok` (a crash right after may
/// not lose the state). When it fails, the engine stops the promotion and
/// returns the error, so no step runs whose progress could not be saved.
#[async_trait]
pub trait Checkpoint: Send + Sync {
    /// Saves `state`.
    async fn save(&self, state: &PromotionState) -> Result<()>;
}

/// A [`Checkpoint`] that keeps nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheckpoint;

#[async_trait]
impl Checkpoint for NoCheckpoint {
    async fn save(&self, _state: &PromotionState) -> Result<()> {
        Ok(())
    }
}
