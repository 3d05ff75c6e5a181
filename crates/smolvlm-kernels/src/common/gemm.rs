//! The GEMM's block sizes, in one place: every kernel and task is cut to these (the generic
//! `crate::gemm`, its vector micro-kernels and AMX tiles in `crate::arch`, attention's query
//! blocks); and the edge store every micro-kernel shares.

/// Columns of a packed panel of B, for every kernel (the 16-wide ones take half a panel per
/// call): two AVX-512 vectors, so the widest kernel covers a panel per call.
pub const PANEL: usize = 32;

/// K is taken in blocks of this many: a panel block (KC × 32 f32, 32 KiB) then stays in L1.
pub(crate) const KC: usize = 256;

/// The stride of a task's copy of A's rows: KC + 16, so rows do not share L1 sets (see
/// `crate::gemm::task::run_task`).
pub(crate) const A_STRIDE: usize = KC + 16;

/// Rows of A per task: 8 × the AVX-512 kernel's 14 rows (and 28 × the portable kernel's 4), so
/// only a product's last task has an edge block of rows; the task's copy of A for one K block
/// (MC × A_STRIDE floats, ~120 KiB) stays in L2.
pub(crate) const MC: usize = 112;

/// Tasks per thread a product is cut into, at least: enough for the shared chunk counter to even
/// out threads the OS schedules late.
pub(crate) const TASKS_PER_THREAD: usize = 4;

/// Below this many multiply-adds a product runs on the calling thread alone: waking the pool
/// costs more than the work.
pub(crate) const SERIAL_BELOW: usize = 1 << 18;

/// K per step of the transposing pack: 128 rows of a 32-column panel (16 KiB) stay in L1 while
/// the panel's columns fill them.
pub(crate) const TRANSPOSE_KB: usize = 128;

/// Writes an accumulated block's live columns to C.
///
/// # Safety
/// C has `R` rows of `cols` (≤ NR) writable floats at stride `ldc`, which nobody else accesses
/// during the call.
#[inline(always)]
pub(crate) unsafe fn store<const R: usize, const NR: usize>(
    acc: &[[f32; NR]; R],
    c: *mut f32,
    ldc: usize,
    cols: usize,
    accumulate: bool,
) {
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: row i of C's block, `cols` floats, is the caller's (this function's contract).
        let out = unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), cols) };
        if accumulate {
            out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
        } else {
            out.copy_from_slice(&row[..cols]);
        }
    }
}
