//! `pool::parallel` runs on exactly `threads::current()` distinct OS threads (the caller's and
//! its workers). In its own test binary: nothing else here changes `threads::set` meanwhile.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use smolvlm_kernels::pool::parallel;
use smolvlm_kernels::threads;

#[test]
fn parallel_runs_on_exactly_the_configured_threads() {
    for n in [1, 2, 3] {
        threads::set(n);
        assert_eq!(threads::current(), n);
        let seen = Mutex::new(HashSet::new());
        parallel(64, &|_| {
            seen.lock().unwrap().insert(std::thread::current().id());
            // Long enough that every worker wakes and takes a chunk before they run out.
            std::thread::sleep(Duration::from_millis(2));
        });
        assert_eq!(seen.into_inner().unwrap().len(), n, "threads::set({n})");
    }
    threads::set(0);
}
