//! A render bomb: a few kilobytes of nested forms that would draw 4^40 squares. Its render must
//! end in a typed `RenderTimeout` at the budget, and the abandoned render thread must be
//! counted so that runaways cannot pile up. Alone in this binary: the abandoned threads keep
//! drawing until the process ends (hayro cannot be stopped mid-page, see `render.rs`).

mod common;

use std::time::{Duration, Instant};

use smolvlm_cancel::CancelToken;
use smolvlm_pdf::{Document, Limits, PdfError, runaway_renders};

#[test]
fn a_render_bomb_times_out_and_runaways_are_bounded() {
    let bytes = common::bomb_pdf(40, 4);
    assert!(bytes.len() < 20_000, "{} bytes", bytes.len());
    let limits = Limits {
        render_timeout: Duration::from_millis(500),
        max_runaway_renders: 1,
        ..Limits::default()
    };
    let doc = Document::open(bytes, &limits).unwrap();
    assert_eq!(runaway_renders(), 0);

    let start = Instant::now();
    let err = doc.render(0, 256, &CancelToken::new()).unwrap_err();
    let elapsed = start.elapsed();
    match &err {
        PdfError::RenderTimeout { page, limit } => {
            assert_eq!((*page, *limit), (1, Duration::from_millis(500)));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(err.code(), "pdf_render_timeout");
    // The budget plus the 20 ms poll; generous for a loaded CI machine.
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(runaway_renders(), 1, "the abandoned render is counted");

    // One runaway is the limit here: the next render is refused at once, even of a good file.
    let good = Document::open(common::fixture("text.pdf"), &limits).unwrap();
    let start = Instant::now();
    let err = good.render(0, 64, &CancelToken::new()).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(
            err,
            PdfError::RendererBusy {
                running: 1,
                limit: 1
            }
        ),
        "{err:?}"
    );
    // With room for more runaways, a cancel stops waiting on the bomb at once too.
    let roomy = Limits {
        max_runaway_renders: 4,
        ..limits
    };
    let doc = Document::open(common::bomb_pdf(40, 4), &roomy).unwrap();
    let cancel = CancelToken::new();
    let stopper = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        stopper.cancel();
    });
    let start = Instant::now();
    let err = doc.render(0, 256, &cancel).unwrap_err();
    assert!(matches!(err, PdfError::Cancelled { page: 1 }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_millis(450),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(runaway_renders(), 2);
    // A good file still renders while the runaways run.
    let img = Document::open(common::fixture("text.pdf"), &roomy)
        .unwrap()
        .render(0, 512, &CancelToken::new())
        .unwrap();
    assert!(img.data.iter().any(|&v| v < 100));
}
