//! `compose-output`: turns its config into the step's output, so later
//! steps (and, inside a task, the promotion) can read values computed from
//! expressions under one alias.

mod step;

pub use step::ComposeOutput;

/// The step kind.
pub const KIND: &str = "compose-output";
