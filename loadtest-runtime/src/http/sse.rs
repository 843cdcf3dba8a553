//! Server-sent events read from a body as it arrives: the `text/event-stream` format of the
//! HTML standard (lines ended by CRLF, LF or CR; `event:`, `data:`, `id:` and `retry:` fields;
//! `:` comments; a blank line ends an event), fed in pieces split anywhere, even inside a line
//! ending.

use std::collections::VecDeque;

/// One server-sent event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The event's type: its `event:` field, or `message` when it had none.
    pub event: String,
    /// Its data: the `data:` fields' values joined by line feeds.
    pub data: String,
    /// The last event id the stream set (`id:`), this event's or an earlier one's.
    pub id: Option<String>,
    /// The reconnection time the event asked for (`retry:`), in milliseconds.
    pub retry: Option<u64>,
}

/// An event stream's parser: bytes in, events out.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// The current line, up to its ending.
    line: Vec<u8>,
    /// The last byte seen was a CR: a LF right after it belongs to the same line ending.
    after_cr: bool,
    /// The stream's first bytes have been looked at (a leading byte order mark is skipped).
    started: bool,
    /// The event being built.
    event: String,
    data: String,
    retry: Option<u64>,
    last_id: Option<String>,
}

impl SseParser {
    /// Feeds the next piece of the stream; the events it completes are pushed to `out`.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], out: &mut VecDeque<Event>) {
        if !self.started && !bytes.is_empty() {
            // A leading byte order mark is skipped when it comes whole in the first piece (a
            // mark split across pieces is not recognised: servers write it with what follows).
            self.started = true;
            if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                bytes = rest;
            }
        }
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => {
                    self.after_cr = true;
                    self.line_done(out);
                }
                b'\n' => self.line_done(out),
                _ => self.line.push(b),
            }
        }
    }

    fn line_done(&mut self, out: &mut VecDeque<Event>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(out);
        } else if line[0] != b':' {
            let (field, value) = match line.iter().position(|&b| b == b':') {
                Some(i) => {
                    let value = &line[i + 1..];
                    (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (&line[..], &[][..]),
            };
            let value = String::from_utf8_lossy(value);
            match field {
                b"event" => self.event = value.into_owned(),
                b"data" => {
                    self.data.push_str(&value);
                    self.data.push('\n');
                }
                b"id" if !value.contains('\0') => self.last_id = Some(value.into_owned()),
                b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                    self.retry = value.parse().ok();
                }
                _ => {}
            }
        }
        // Keep the line's buffer for the next line.
        self.line = line;
        self.line.clear();
    }

    /// A blank line: the event built so far is dispatched if it has data (an event without
    /// data is dropped, as browsers drop it).
    fn dispatch(&mut self, out: &mut VecDeque<Event>) {
        let retry = self.retry.take();
        if self.data.is_empty() {
            self.event.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the last line feed
        let event = match std::mem::take(&mut self.event) {
            e if e.is_empty() => "message".to_string(),
            e => e,
        };
        out.push_back(Event {
            event,
            data,
            id: self.last_id.clone(),
            retry,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in(pieces: &[&[u8]]) -> Vec<Event> {
        let mut p = SseParser::default();
        let mut out = VecDeque::new();
        for piece in pieces {
            p.feed(piece, &mut out);
        }
        out.into_iter().collect()
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
            retry: None,
        }
    }

    const STREAM: &[u8] = b"\xEF\xBB\xBF: a comment\r\n\
        data: one\r\n\r\n\
        event: token\nid: 7\ndata: two\ndata:  three\n\n\
        data\n\n\
        retry: 2500\rdata:four\r\r\
        id: 8\nevent: lone\n\n\
        data: five\n\n\
        data: never ended";

    fn expected() -> Vec<Event> {
        vec![
            ev("message", "one", None),
            ev("token", "two\n three", Some("7")),
            ev("message", "", Some("7")),
            Event {
                retry: Some(2500),
                ..ev("message", "four", Some("7"))
            },
            // `event: lone` had no data: dropped, but its id stays.
            ev("message", "five", Some("8")),
        ]
    }

    #[test]
    fn fields_comments_and_line_endings() {
        assert_eq!(parse_in(&[STREAM]), expected());
    }

    #[test]
    fn events_split_anywhere_parse_the_same() {
        // Every split into two pieces, and every split into three around each CR.
        for i in 0..=STREAM.len() {
            assert_eq!(
                parse_in(&[&STREAM[..i], &STREAM[i..]]),
                expected(),
                "split at {i}"
            );
        }
        for (i, _) in STREAM.iter().enumerate().filter(|(_, b)| **b == b'\r') {
            for j in i..=STREAM.len().min(i + 3) {
                assert_eq!(
                    parse_in(&[&STREAM[..i], &STREAM[i..j], &STREAM[j..]]),
                    expected(),
                    "split at {i} and {j}"
                );
            }
        }
        // One byte at a time.
        let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
        assert_eq!(parse_in(&bytes), expected());
    }

    #[test]
    fn a_lone_cr_then_lf_in_the_next_piece_is_one_line_ending() {
        assert_eq!(
            parse_in(&[b"data: a\r", b"\n\r", b"\ndata: b\n\n"]),
            vec![ev("message", "a", None), ev("message", "b", None)]
        );
    }
}
