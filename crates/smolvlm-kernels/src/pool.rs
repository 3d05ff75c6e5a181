//! A small persistent thread pool for the matrix products. A decode step runs ~200 of them, each
//! a few microseconds to a few hundred: spawning threads or waking sleeping ones per product would
//! cost as much as the work, so idle workers spin briefly on an epoch counter before sleeping.
//!
//! Work is handed out in chunks from a shared counter, and the caller takes chunks too: a worker
//! the OS has not scheduled (a busy machine) is simply not waited for — the caller closes the job
//! once every chunk is taken and waits only for workers that actually joined it. With a static
//! split the caller would idle for the missing thread's whole time slice.

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps: longer than the gap between two products of
/// a decode step, short enough not to burn a core once generation ends.
const SPIN: Duration = Duration::from_micros(200);
/// Spins of an idle worker between looks at the clock: reading it costs more than a spin.
const SPINS_PER_CLOCK_READ: u32 = 64;
/// Spins of the caller waiting for the workers still inside a job before it yields its time
/// slice instead: they usually finish within a chunk's time.
const CALLER_SPINS: u32 = 1 << 12;

type Job = *const (dyn Fn(usize) + Sync + 'static);

struct Shared {
    epoch: AtomicU64,
    /// The current job and its chunk count; written only while no worker is inside a job
    /// (`active` is zero and `closed` is set), read by workers after joining.
    job: UnsafeCell<Option<(Job, usize)>>,
    next_chunk: AtomicUsize,
    /// Workers inside the current job.
    active: AtomicUsize,
    /// Set once every chunk of the current job is taken; late workers then stay out.
    closed: AtomicBool,
    panicked: AtomicBool,
    shutdown: AtomicBool,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written only by the caller of `Pool::run` while no worker is inside a job
// (`closed` set, `active` zero) and read by workers only while counted in `active`, so the
// accesses never overlap; the job pointer it holds is to a `Sync` closure. Every other field is
// atomic or a lock.
unsafe impl Sync for Shared {}
// SAFETY: as above; the raw job pointer is only dereferenced under that protocol.
unsafe impl Send for Shared {}

/// A pool of `threads - 1` workers and the caller. `Send` but not `Sync`: one job at a time, so
/// two threads must not `run` on one pool at once (the global pool sits behind a lock).
pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    _one_job_at_a_time: PhantomData<Cell<()>>,
}

impl Pool {
    /// A pool running jobs on `threads` threads: the caller's and `threads - 1` workers.
    pub fn new(threads: usize) -> Self {
        let shared = Arc::new(Shared {
            epoch: AtomicU64::new(0),
            job: UnsafeCell::new(None),
            next_chunk: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            closed: AtomicBool::new(true),
            panicked: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let workers = (1..threads.max(1))
            .filter_map(|i| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("smolvlm-kernel-{i}"))
                    .spawn(move || worker(&s))
                    .ok()
            })
            .collect();
        Self {
            shared,
            workers,
            _one_job_at_a_time: PhantomData,
        }
    }

    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(c)` for every chunk `c` in `0..chunks`, on the caller's thread and whichever
    /// workers join, and returns when all are done. A panic in any chunk is raised here.
    pub fn run(&self, chunks: usize, f: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() || chunks <= 1 {
            (0..chunks).for_each(f);
            return;
        }
        let s = &*self.shared;
        // SAFETY: only the lifetime is erased (same fat-pointer layout), and only while workers
        // can reach the job: this function closes it and waits for every worker inside before
        // returning (also when a chunk panics, which `catch_unwind` stops here).
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        // SAFETY: no worker is inside a job (the previous `run` waited for `active` to reach
        // zero with `closed` set, and `Pool` is not `Sync`, so no other thread runs on this pool
        // meanwhile), so nobody reads `job` now.
        unsafe { *s.job.get() = Some((job, chunks)) };
        s.next_chunk.store(0, SeqCst);
        s.closed.store(false, SeqCst);
        s.epoch.fetch_add(1, SeqCst);
        if s.sleepers.load(SeqCst) > 0 {
            let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| take_chunks(s, f, chunks)));
        s.closed.store(true, SeqCst);
        let mut spins = 0u32;
        while s.active.load(SeqCst) != 0 {
            spins += 1;
            if spins < CALLER_SPINS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: the job is closed and no worker is inside it (`active` is zero), so nobody
        // reads `job` now.
        unsafe { *s.job.get() = None };
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        if s.panicked.swap(false, SeqCst) {
            panic!("a kernel thread panicked");
        }
    }
}

fn take_chunks(s: &Shared, f: &(dyn Fn(usize) + Sync), chunks: usize) {
    loop {
        let c = s.next_chunk.fetch_add(1, SeqCst);
        if c >= chunks {
            return;
        }
        f(c);
    }
}

fn worker(s: &Shared) {
    let mut seen = 0;
    loop {
        let mut idle_since: Option<Instant> = None;
        let mut spins = 0u32;
        loop {
            if s.shutdown.load(SeqCst) {
                return;
            }
            let e = s.epoch.load(SeqCst);
            if e != seen {
                seen = e;
                break;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(SPINS_PER_CLOCK_READ) {
                std::hint::spin_loop();
                continue;
            }
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() < SPIN {
                std::hint::spin_loop();
                continue;
            }
            let mut g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.sleepers.fetch_add(1, SeqCst);
            while s.epoch.load(SeqCst) == seen && !s.shutdown.load(SeqCst) {
                g = s.wake.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            s.sleepers.fetch_sub(1, SeqCst);
            idle_since = None;
        }
        // Join, then check the job is still open: with both sides SeqCst, either the caller
        // sees this worker in `active` and waits for it, or this worker sees `closed`.
        s.active.fetch_add(1, SeqCst);
        if !s.closed.load(SeqCst) {
            // SAFETY: the job was written before `closed` was cleared and stays unchanged (and
            // its closure alive) while this worker is counted in `active` (see `Pool::run`).
            if let Some((job, chunks)) = unsafe { *s.job.get() } {
                // SAFETY: as above: the closure outlives this worker's time in the job.
                let f = unsafe { &*job };
                if catch_unwind(AssertUnwindSafe(|| take_chunks(s, f, chunks))).is_err() {
                    s.panicked.store(true, SeqCst);
                }
            }
        }
        s.active.fetch_sub(1, SeqCst);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, SeqCst);
        {
            let _g = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

static GLOBAL: Mutex<Option<Pool>> = Mutex::new(None);

/// Runs `f(c)` for every chunk `c` in `0..chunks` on the shared pool of
/// [`crate::threads::current`] threads (rebuilt when the setting changes). Calls from several
/// threads at once take turns.
pub fn parallel(chunks: usize, f: &(dyn Fn(usize) + Sync)) {
    let n = crate::threads::current();
    if n <= 1 || chunks <= 1 {
        (0..chunks).for_each(f);
        return;
    }
    let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    if g.as_ref().is_none_or(|p| p.threads() != n) {
        *g = None;
        *g = Some(Pool::new(n));
    }
    g.as_ref().expect("pool just built").run(chunks, f);
}
