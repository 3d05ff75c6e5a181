//! What one render of a chat template may cost. The template comes from the model's files, which
//! anyone can publish, and renders on the worker that answers: unbounded, it could loop for hours
//! (`{% for i in range(100000) %}{% for j in range(100000) %}`), allocate until the process aborts
//! (`'x' * 10**10`, `tojson(indent=10**9)`), or nest values so deep that walking or dropping them
//! overflows the stack (which aborts, whatever the thread). Each bound is far above what real
//! templates (SmolVLM's, Llama's: measured) use on the longest conversation a context holds, so
//! none changes how a real template renders.

use std::io;

use minijinja::{Error, ErrorKind};

use crate::error::TemplateLimit;

/// minijinja fuel per render: one per instruction and about one per 64 bytes of data made.
/// SmolVLM's template and Llama's spend 30–40 per message of a hundred bytes (measured), so this
/// pays for some 20 000 messages, or for [`MAX_OUTPUT`] many times over; a render that burns it
/// all ends within about 50 ms.
pub(super) const FUEL: u64 = 1_000_000;

/// Bytes of output per render: 4 MiB is ~1 M tokens of text, several times the largest context a
/// loaded model may have.
pub(super) const MAX_OUTPUT: usize = 4 << 20;

/// The widest `tojson` indent, in spaces or characters: templates use 2 or 4.
pub(super) const MAX_INDENT: usize = 64;

/// The deepest nesting that printing and `tojson` walk: messages and tool schemas nest a few
/// levels; Python's `json.dumps` itself stops near 1000.
pub(super) const MAX_DEPTH: usize = 256;

/// minijinja's recursion limit (its default, and the most it allows without its `stacker`
/// feature): macros cost ~10 of it per call, `for` and `if` one.
pub(super) const RECURSION_LIMIT: usize = 500;

/// The stack a render runs on. minijinja compares, prints and drops values recursively without a
/// depth limit, and a template can nest a list in itself once per loop step: [`FUEL`] reaches
/// ~100 000 levels, which overflow the 2 MiB of an ordinary thread (somewhere between 20 000
/// and 50 000, measured) and take ~65 MiB where minijinja spends the most per level (printing:
/// 200 000 levels fit in 128 MiB, measured). Only the pages a render touches are committed.
const RENDER_STACK: usize = 256 << 20;

/// The render's output, refused past [`MAX_OUTPUT`] at the write that crosses it, before it
/// fills memory.
#[derive(Default)]
pub(super) struct CappedOutput {
    pub(super) bytes: Vec<u8>,
    pub(super) overflowed: bool,
}

impl io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > MAX_OUTPUT {
            self.overflowed = true;
            return Err(io::Error::other("chat template output too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Marks an error of this crate's filters as a limit hit, as `RaisedByTemplate` marks
/// `raise_exception`, so that it maps to [`crate::TextError::TemplateLimit`].
#[derive(Debug)]
struct LimitHit(TemplateLimit);

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LimitHit {}

pub(super) fn limit_error(limit: TemplateLimit) -> Error {
    Error::new(ErrorKind::InvalidOperation, limit.to_string()).with_source(LimitHit(limit))
}

/// The limit `e` (or an error it wraps) stands for: fuel running out, or a [`limit_error`].
pub(super) fn limit_of(e: &Error) -> Option<TemplateLimit> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(hit) = err.downcast_ref::<LimitHit>() {
            return Some(hit.0);
        }
        if err
            .downcast_ref::<Error>()
            .is_some_and(|e| e.kind() == ErrorKind::OutOfFuel)
        {
            return Some(TemplateLimit::Fuel(FUEL));
        }
        cur = err.source();
    }
    None
}

/// Runs `render` on a thread with a [`RENDER_STACK`] stack; `None` when no such thread can be
/// started. A panic in it is passed on as it is.
pub(super) fn on_render_stack<T: Send>(render: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("chat-template".into())
            .stack_size(RENDER_STACK)
            .spawn_scoped(s, render)
            .ok()?;
        Some(
            handle
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    })
}
