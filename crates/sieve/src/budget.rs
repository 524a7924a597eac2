//! The run-time step budget: one step per command and test executed, and one per KiB
//! of text compared, so that time spent is bounded whatever the script and message.

use crate::error::RunError;

/// Bytes of comparison work that cost one step.
const BYTES_PER_STEP: u64 = 1024;

/// What is left of one run's budget.
#[derive(Debug)]
pub(crate) struct Budget {
    /// The budget in steps, for the error message.
    max_steps: u64,
    /// Work units left; one step is [`BYTES_PER_STEP`] units.
    left: u64,
}

impl Budget {
    /// A fresh budget of `max_steps` steps.
    pub(crate) fn new(max_steps: u64) -> Self {
        Self {
            max_steps,
            left: max_steps.saturating_mul(BYTES_PER_STEP),
        }
    }

    /// Charges one step (a command or a test).
    pub(crate) fn step(&mut self) -> Result<(), RunError> {
        self.take(BYTES_PER_STEP)
    }

    /// Charges for comparing `bytes` bytes, plus a small fixed cost per comparison.
    pub(crate) fn charge_bytes(&mut self, bytes: usize) -> Result<(), RunError> {
        self.take((bytes as u64).saturating_add(16))
    }

    fn take(&mut self, units: u64) -> Result<(), RunError> {
        match self.left.checked_sub(units) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => {
                self.left = 0;
                Err(RunError::StepBudget {
                    max: self.max_steps,
                })
            }
        }
    }
}
