//! The one cancel flag of the project: a generation (engine) and a download (hub) both stop on
//! it, so a shell holds one type for every long job. Its own crate because neither of those
//! crates depends on the other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared flag a caller sets to stop a job; the job checks it between steps (tokens, image
/// frames, download chunks) and keeps what it finished (a partial download is kept for resuming).
/// Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let a = CancelToken::new();
        let b = a.clone();
        assert!(!b.is_cancelled());
        a.cancel();
        assert!(b.is_cancelled());
        assert!(!CancelToken::new().is_cancelled());
    }
}
