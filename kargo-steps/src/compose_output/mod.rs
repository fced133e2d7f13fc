//! `compose-output`: turns its config into the step's output, so later
//! steps (and, inside a task, the promotion) can read values computed from
//! expressions under one alias.

mod step;

use kargo_core::step::Touches;

pub use step::ComposeOutput;

/// The step kind.
pub const KIND: &str = "compose-output";

/// Where in the work directory the step reads and writes. It only computes
/// outputs.
const TOUCHES: Touches = Touches::Nothing;
