//! SIGINT and SIGTERM (and the dashboard's Stop control): set a flag that the runner checks, so
//! load stops and reports are written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A flag set by SIGINT or SIGTERM (or the dashboard's Stop control).
#[derive(Clone, Default)]
pub(crate) struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Registers the handlers. A second signal while stopping is honoured the same way (the
    /// runner is already stopping), so reports are never abandoned half-written.
    pub(crate) fn install() -> Interrupt {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration only fails for forbidden signals, which these are not.
            let _ = signal_hook::flag::register(sig, flag.clone());
        }
        Interrupt(flag)
    }

    /// Stops the run as a signal does: the dashboard's Stop control.
    pub(crate) fn trigger(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a signal arrived (or the run was stopped from the dashboard).
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
