//! Locking that survives a caught panic.

use std::sync::{Mutex, MutexGuard};

/// Locks, recovering the data from a poisoned mutex (a caught panic must not wedge the app).
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
