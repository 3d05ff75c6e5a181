//! Drawing one page with hayro, on a thread of its own under a time budget.
//!
//! hayro (0.9) has no hook to stop a render: the interpreter walks the page's content to its end
//! and neither its `Device` calls nor its settings can abort it. So each render runs on its own
//! thread while the caller waits with a deadline, looking at its `CancelToken` in between. At the
//! deadline (or on cancel) the caller gets its error at once and the thread is *abandoned*: it
//! goes on drawing, using a core and the memory of its canvas and drawing commands, until hayro
//! finishes the page or the process exits; its result is then dropped. Abandoned renders still
//! running are counted, and past `Limits::max_runaway_renders` new renders are refused
//! (`RendererBusy`) instead of stacking up more of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_syntax::Pdf;
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{RenderCache, RenderSettings};
use smolvlm_cancel::CancelToken;

use crate::{Limits, PdfError, RgbImage};

/// How often a waiting caller looks at its cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(20);
/// The render thread's stack: hayro recurses into nested forms, patterns and Type 3 glyphs (up
/// to 50 levels), and a stack overflow would abort the whole process. Only the pages touched
/// are committed.
const RENDER_STACK: usize = 64 << 20;

/// Abandoned renders whose threads have not ended yet (process-wide: they share the cores).
static RUNAWAY: AtomicUsize = AtomicUsize::new(0);

const RUNNING: u8 = 0;
const DONE: u8 = 1;
const ABANDONED: u8 = 2;

/// The abandoned renders still running in this process.
pub fn runaway_renders() -> usize {
    RUNAWAY.load(Ordering::SeqCst)
}

/// One page to draw: `scale` pixels per point onto a `width × height` canvas.
pub(crate) struct Job {
    pub pdf: Arc<Pdf>,
    pub index: usize,
    pub scale: f64,
    pub width: u16,
    pub height: u16,
}

/// Runs `job` on its own thread and waits for it within `limits.render_timeout`.
pub(crate) fn run(job: Job, limits: &Limits, cancel: &CancelToken) -> Result<RgbImage, PdfError> {
    let page = job.index + 1;
    let running = runaway_renders();
    if running >= limits.max_runaway_renders {
        return Err(PdfError::RendererBusy {
            running,
            limit: limits.max_runaway_renders,
        });
    }
    let state = Arc::new(AtomicU8::new(RUNNING));
    let (tx, rx) = mpsc::sync_channel(1);
    let finish = Finish(Arc::clone(&state));
    std::thread::Builder::new()
        .name(format!("pdf-render-p{page}"))
        .stack_size(RENDER_STACK)
        .spawn(move || {
            // Dropped last, after the send, and on unwind too: a panicking render still ends
            // its runaway count.
            let _finish = finish;
            let _ = tx.send(draw(&job));
        })
        .map_err(|_| PdfError::RenderFailed { page })?;
    let deadline = Instant::now() + limits.render_timeout;
    loop {
        if cancel.is_cancelled() {
            return abandon(&state, &rx, PdfError::Cancelled { page }, page);
        }
        let now = Instant::now();
        if now >= deadline {
            let timeout = PdfError::RenderTimeout {
                page,
                limit: limits.render_timeout,
            };
            return abandon(&state, &rx, timeout, page);
        }
        match rx.recv_timeout(CANCEL_POLL.min(deadline - now)) {
            Ok(image) => return Ok(image),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // The thread ended without a result: hayro panicked on this page.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(PdfError::RenderFailed { page });
            }
        }
    }
}

/// Leaves the render thread to finish alone, or takes its result if it just finished.
fn abandon(
    state: &AtomicU8,
    rx: &mpsc::Receiver<RgbImage>,
    error: PdfError,
    page: usize,
) -> Result<RgbImage, PdfError> {
    // Counted before the state changes, so the thread's decrement can never come first.
    RUNAWAY.fetch_add(1, Ordering::SeqCst);
    if state
        .compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        return Err(error);
    }
    // It finished between the last look and now; a cancel still wins over its result.
    RUNAWAY.fetch_sub(1, Ordering::SeqCst);
    if matches!(error, PdfError::Cancelled { .. }) {
        return Err(error);
    }
    rx.try_recv().map_err(|_| PdfError::RenderFailed { page })
}

/// Marks the render finished when its thread ends; uncounts it if it had been abandoned.
struct Finish(Arc<AtomicU8>);

impl Drop for Finish {
    fn drop(&mut self) {
        let ended = self
            .0
            .compare_exchange(RUNNING, DONE, Ordering::SeqCst, Ordering::SeqCst);
        if ended.is_err() {
            RUNAWAY.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// hayro's `render`, with our own canvas size (poppler's rounding, not hayro's truncation) and
/// the page composited on white, as printed and as poppler shows it.
fn draw(job: &Job) -> RgbImage {
    let Some(page) = job.pdf.pages().get(job.index) else {
        // Checked by the caller; an empty page rather than a panic if ever not.
        return RgbImage::white(u32::from(job.width), u32::from(job.height));
    };
    let cache = RenderCache::new();
    let mut ctx = RenderContext::new(job.width, job.height);
    let transform = Affine::scale(job.scale) * page.initial_transform(true).to_kurbo();
    hayro::render_into(
        page,
        &cache,
        &InterpreterSettings::default(),
        &RenderSettings::default(),
        &mut ctx,
        transform,
    );
    ctx.flush();
    let mut pixmap = Pixmap::new(job.width, job.height);
    ctx.render_with(
        &mut pixmap,
        &mut Resources::default(),
        RasterizerSettings {
            target_init: TargetInit::Clear(WHITE),
            ..Default::default()
        },
    );
    let mut data = Vec::with_capacity(pixmap.data().len() * 3);
    for px in pixmap.data() {
        // Premultiplied over white: c + (255 − a). The white background leaves every alpha at
        // 255, so this only matters if that ever changes.
        let under = 255 - px.a;
        data.extend_from_slice(&[
            px.r.saturating_add(under),
            px.g.saturating_add(under),
            px.b.saturating_add(under),
        ]);
    }
    RgbImage {
        width: u32::from(job.width),
        height: u32::from(job.height),
        data,
    }
}
