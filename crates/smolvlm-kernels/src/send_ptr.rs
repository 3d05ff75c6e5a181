//! The one raw pointer the crate shares between the tasks of a [`crate::pool::parallel`] call:
//! each task writes its own, disjoint part of one buffer, which none of them may hold as `&mut`
//! while the others run.

/// A pointer into a buffer that outlives a parallel call, handed to its tasks. Creating and
/// copying it is safe; every offset and access is an `unsafe fn` whose contract is the usual one
/// for the pointer (in bounds of one allocation), plus that no two tasks touch the same element.
pub(crate) struct SendPtr<T = f32>(*mut T);

// Manual impls: a derive would require `T: Copy`, which the pointer does not need.
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SendPtr<T> {}

// SAFETY: the pointer is only dereferenced through the `unsafe fn`s below, whose callers
// guarantee that tasks on different threads access disjoint elements and that the buffer
// outlives them (the parallel call returns only after every task has finished).
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as for `Send`: shared references only copy the pointer.
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    pub(crate) fn new(p: *mut T) -> Self {
        Self(p)
    }

    /// The pointer `i` elements on.
    ///
    /// # Safety
    /// `i` is at most the buffer's length (the result stays inside, or one past, the allocation
    /// the pointer came from).
    pub(crate) unsafe fn add(self, i: usize) -> *mut T {
        // SAFETY: in bounds of the allocation (the caller's contract).
        unsafe { self.0.add(i) }
    }

    /// The pointer `i` elements on, as another `SendPtr`, without any bounds promise (the
    /// arithmetic wraps; only accesses through the result need one).
    pub(crate) fn wrapping_add(self, i: usize) -> Self {
        Self(self.0.wrapping_add(i))
    }

    /// Writes element `i`.
    ///
    /// # Safety
    /// Element `i` is in bounds of the buffer and no other thread accesses it during the
    /// parallel call.
    pub(crate) unsafe fn write(self, i: usize, v: T) {
        // SAFETY: in bounds and this task's alone (the caller's contract).
        unsafe { self.0.add(i).write(v) }
    }

    /// Elements `start..start + len` as a slice, for the caller alone.
    ///
    /// # Safety
    /// The range is in bounds of the buffer, initialized, and nobody else accesses it while the
    /// slice lives.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut<'a>(self, start: usize, len: usize) -> &'a mut [T] {
        // SAFETY: in bounds, initialized and unaliased (the caller's contract).
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}
