//! `pdf`: a PDF as the app and the server take it: opened under the real limits (size, page
//! count, page size), its first pages sized and rendered small, its page list parsed.

use std::time::Duration;

use smolvlm_cancel::CancelToken;
use smolvlm_pdf::{Document, Limits, PageList};

/// Pages rendered per input: the first and the last.
const RENDERED: usize = 2;
/// The longest edge pages are rendered at: small, so the fuzzer spends its time in the parser
/// and the interpreter rather than in filling pixels.
const EDGE_PX: u32 = 64;

pub fn pdf(data: &[u8]) {
    // The real limits but for the render time: a page that takes longer than this is abandoned
    // as a render bomb (the real limit, 30 s, is longer than libFuzzer's timeout).
    let limits = Limits {
        render_timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    let Ok(doc) = Document::open(data.to_vec(), &limits) else {
        return;
    };
    let count = doc.page_count();
    let _ = PageList::parse(&format!("1-{count}")).map(|p| p.pages().len());
    let cancel = CancelToken::new();
    let mut pages: Vec<usize> = (0..count.min(RENDERED)).collect();
    if count > RENDERED {
        pages.push(count - 1);
    }
    for index in pages {
        let _ = doc.page_size_pt(index);
        let _ = doc.size_at_longest_edge(index, EDGE_PX);
        if let Ok(image) = doc.render(index, EDGE_PX, &cancel) {
            assert_eq!(
                image.data.len(),
                image.width as usize * image.height as usize * 3
            );
            assert_eq!(image.width.max(image.height), EDGE_PX);
        }
    }
}
