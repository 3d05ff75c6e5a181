//! The CPU threads a model computes on: one setting (`LoadOptions::threads`) for both pools that
//! do the work — the kernels' own pool (quantized products, GEMM, attention) and a rayon pool
//! for candle's CPU ops (norms, the patch embedding, tensor copies). Without it, candle would use
//! rayon's global pool of every logical CPU whatever the user asked for.

use std::sync::Arc;

use crate::error::{Error, Result};

/// How many threads a model uses, and the rayon pool of that size. Clones share the pool.
#[derive(Clone)]
pub struct Compute {
    threads: usize,
    pool: Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for Compute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compute")
            .field("threads", &self.threads)
            .finish()
    }
}

impl Compute {
    /// `threads` compute threads; 0 is automatic (`SMOLVLM_THREADS`, else the physical cores).
    pub fn new(threads: usize) -> Result<Self> {
        let threads = match threads {
            0 => smolvlm_kernels::threads::automatic(),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("smolvlm-compute-{i}"))
            .build()
            .map_err(|e| Error::Threads {
                threads,
                reason: e.to_string(),
            })?;
        Ok(Self {
            threads,
            pool: Arc::new(pool),
        })
    }

    /// The number of threads in use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` with every CPU op on this many threads. The kernels' pool is one per process
    /// (its workers spin between the products of a step, so two would fight over the cores):
    /// whichever model computes sizes it for that step.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        smolvlm_kernels::threads::set(self.threads);
        self.pool.install(f)
    }
}
