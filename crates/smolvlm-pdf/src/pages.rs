//! Which pages of a PDF to show a model: the `1,3-4` lists of the CLI's `--pages` and the API's
//! `pages` field, and telling a PDF from an image by its first bytes.

/// Most pages one list may name: each page is a full image to the model.
pub const MAX_LISTED_PAGES: usize = 1_000;

/// The PDF header every PDF file starts with.
const PDF_HEADER: &[u8] = b"%PDF-";

/// Why a page list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageListError {
    #[error("no page listed (e.g. 1,3-4)")]
    Empty,
    #[error("pages count from 1")]
    Zero,
    #[error("{0:?} is not a page number (e.g. 1,3-4)")]
    NotANumber(String),
    #[error("the range {0} goes downwards")]
    Downwards(String),
    #[error("more than {MAX_LISTED_PAGES} pages listed")]
    TooMany,
}

/// The pages of a PDF to show the model: 1-based, in the order and with the repeats given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageList(Vec<usize>);

impl PageList {
    /// Page 1 alone.
    pub fn first() -> Self {
        Self(vec![1])
    }

    /// Every page of a `count`-page PDF, in order.
    pub fn all(count: usize) -> Self {
        Self((1..=count).collect())
    }

    /// `1,3-4` → pages 1, 3, 4. Ranges go upwards; pages count from 1.
    pub fn parse(s: &str) -> Result<Self, PageListError> {
        if s.trim().is_empty() {
            return Err(PageListError::Empty);
        }
        let mut pages = Vec::new();
        for part in s.split(',').map(str::trim) {
            let number = |t: &str| -> Result<usize, PageListError> {
                match t.trim().parse::<usize>() {
                    Ok(0) => Err(PageListError::Zero),
                    Ok(n) => Ok(n),
                    Err(_) => Err(PageListError::NotANumber(t.trim().to_string())),
                }
            };
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => {
                    let n = number(part)?;
                    (n, n)
                }
            };
            if last < first {
                return Err(PageListError::Downwards(part.to_string()));
            }
            if pages.len() + (last - first + 1) > MAX_LISTED_PAGES {
                return Err(PageListError::TooMany);
            }
            pages.extend(first..=last);
        }
        Ok(Self(pages))
    }

    /// 1-based page numbers.
    pub fn pages(&self) -> &[usize] {
        &self.0
    }
}

impl std::str::FromStr for PageList {
    type Err = PageListError;
    fn from_str(s: &str) -> Result<Self, PageListError> {
        Self::parse(s)
    }
}

/// Whether `bytes` start as a PDF file does.
pub fn is_pdf_bytes(bytes: &[u8]) -> bool {
    bytes.starts_with(PDF_HEADER)
}

/// Whether the file at `path` is to be read as a PDF: named `.pdf` (any case), or starting with
/// the PDF header whatever its name (a download saved without its extension). An unreadable file
/// is not one; opening it as an image then says why.
///
/// Only a regular file is sniffed: opening a FIFO (`/dev/stdin`, a named pipe a request names)
/// blocks until something writes to it, and the API checks its requests' paths on its async
/// threads.
pub fn is_pdf_file(path: &std::path::Path) -> bool {
    use std::io::Read;
    let named = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
    named || {
        if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
            return false;
        }
        let mut head = [0u8; PDF_HEADER.len()];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| is_pdf_bytes(&head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_lists_parse_in_order_and_reject_nonsense() {
        assert_eq!(PageList::parse("1,3-4").unwrap().pages(), [1, 3, 4]);
        assert_eq!(PageList::parse(" 2 , 2,5-5 ").unwrap().pages(), [2, 2, 5]);
        assert_eq!(PageList::first().pages(), [1]);
        assert_eq!(PageList::all(3).pages(), [1, 2, 3]);
        assert_eq!(PageList::parse(""), Err(PageListError::Empty));
        assert_eq!(PageList::parse("0"), Err(PageListError::Zero));
        assert_eq!(
            PageList::parse("4-3"),
            Err(PageListError::Downwards("4-3".into()))
        );
        for bad in ["a", "1,", "-2", "1-", "1-100000"] {
            assert!(PageList::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pdfs_are_told_by_their_header() {
        assert!(is_pdf_bytes(b"%PDF-1.7\n"));
        assert!(!is_pdf_bytes(b"\x89PNG\r\n"));
        assert!(!is_pdf_bytes(b"%PD"));
    }

    #[test]
    fn pdfs_are_told_by_name_or_header() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("a.PDF");
        let sniffed = dir.path().join("scan.bin");
        let png = dir.path().join("b.png");
        std::fs::write(&named, b"").unwrap();
        std::fs::write(&sniffed, b"%PDF-1.7\n").unwrap();
        std::fs::write(&png, b"\x89PNG").unwrap();
        assert!(is_pdf_file(&named) && is_pdf_file(&sniffed));
        assert!(!is_pdf_file(&png) && !is_pdf_file(&dir.path().join("missing.png")));
    }

    #[cfg(unix)]
    #[test]
    fn a_named_pipe_is_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(is_pdf_file(&fifo)));
        let answer = rx.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(answer, Ok(false), "is_pdf_file blocked on a FIFO");
    }
}
