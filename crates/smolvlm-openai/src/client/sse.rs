//! Server-Sent Events as OpenAI-compatible servers stream them: `data:` lines, one event per blank
//! line, `:` comments as keep-alives. Only what a chat stream needs of the WHATWG format: the
//! `event`, `id` and `retry` fields are read and dropped (no server we talk to relies on them).

use std::io::{self, BufRead, Read};

/// A server cannot make us buffer without bound: one line (one JSON chunk) longer than this ends
/// the stream as a protocol error.
pub(crate) const MAX_LINE_BYTES: u64 = 8 << 20;

pub(crate) struct SseReader<R> {
    inner: R,
    line: Vec<u8>,
}

impl<R: BufRead> SseReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            line: Vec::new(),
        }
    }

    /// The next event's data, its `data:` lines joined with `\n`; `None` at the end of the
    /// stream. Events that carry no data (comments, keep-alives, bare `event:` lines) are skipped.
    /// An error of kind `InvalidData` is the server's fault (a line too long, not UTF-8); any
    /// other is the connection's.
    pub(crate) fn next_event(&mut self) -> io::Result<Option<String>> {
        let mut data: Option<String> = None;
        loop {
            self.line.clear();
            let n = (&mut self.inner)
                .take(MAX_LINE_BYTES + 1)
                .read_until(b'\n', &mut self.line)?;
            if n == 0 {
                // A last event without its blank line still counts: some servers end on
                // `data: [DONE]\n` and close.
                return Ok(data);
            }
            if self.line.len() as u64 > MAX_LINE_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("an event-stream line is longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            let line = std::str::from_utf8(&self.line).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "the stream is not UTF-8")
            })?;
            let line = line.strip_suffix('\n').unwrap_or(line);
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                if data.is_some() {
                    return Ok(data);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            if field == "data" {
                match &mut data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => data = Some(value.to_string()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(stream: &str) -> Vec<String> {
        let mut r = SseReader::new(stream.as_bytes());
        let mut out = Vec::new();
        while let Some(e) = r.next_event().unwrap() {
            out.push(e);
        }
        out
    }

    #[test]
    fn splits_events_and_drops_comments_and_other_fields() {
        let s =
            ": keep-alive\n\nevent: message\nid: 3\ndata: {\"a\":1}\n\n:ping\r\n\r\ndata:x\r\n\r\n";
        assert_eq!(events(s), vec!["{\"a\":1}".to_string(), "x".to_string()]);
    }

    #[test]
    fn joins_multi_line_data_and_keeps_a_last_event_without_blank_line() {
        let s = "data: {\"a\":\ndata:  1}\n\ndata: [DONE]\n";
        assert_eq!(
            events(s),
            vec!["{\"a\":\n 1}".to_string(), "[DONE]".to_string()]
        );
    }

    #[test]
    fn an_empty_data_line_is_an_event_with_empty_data() {
        assert_eq!(events("data\n\n"), vec![String::new()]);
    }

    #[test]
    fn refuses_endless_lines_and_bad_utf8() {
        let long = vec![b'a'; MAX_LINE_BYTES as usize + 10];
        let mut r = SseReader::new(&long[..]);
        assert_eq!(
            r.next_event().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut r = SseReader::new(&b"data: \xff\n\n"[..]);
        assert_eq!(
            r.next_event().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
