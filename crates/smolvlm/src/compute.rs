//! The CPU threads a model computes on: one setting (`LoadOptions::threads`) for the kernels'
//! own pool (quantized products, GEMM, attention: nearly all the work) and for rayon's global
//! pool, on which candle's remaining CPU ops run (norms, rotary embeddings, the patch
//! embedding).
//!
//! The work itself runs on the caller's thread, which takes part in every product. Handing each
//! step to a pool of rayon's own instead (`ThreadPool::install`) would put the model's buffers
//! in another malloc arena than the one its weights were loaded from: +17 % peak RSS for
//! SmolLM2-135M, measured.

/// How many threads a model uses.
#[derive(Debug, Clone)]
pub struct Compute {
    threads: usize,
}

impl Compute {
    /// `threads` compute threads; 0 is automatic (`SMOLVLM_THREADS`, else the physical cores).
    /// The first model of a process also sizes rayon's global pool: it can be built only once,
    /// so later models change the kernels' pool only (where the work is).
    pub fn new(threads: usize) -> Self {
        let threads = match threads {
            0 => smolvlm_kernels::threads::automatic(),
            n => n,
        };
        // Fails when already built (an earlier model, or a library that used rayon first), and
        // then that pool serves; rayon builds its default one if these threads cannot start.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("smolvlm-compute-{i}"))
            .build_global();
        Self { threads }
    }

    /// The number of threads in use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` with the kernels on this many threads. The kernels' pool is one per process
    /// (its workers spin between the products of a step, so two would fight over the cores):
    /// whichever model computes sizes it for that step.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        smolvlm_kernels::threads::set(self.threads);
        f()
    }
}
