//! The timing of one stream, whatever carries it: a streamed HTTP response's body
//! (`Request::stream`), and any other transport whose answer comes in pieces (a gRPC
//! server-streaming call's messages) records through the same [`StreamTimer`], so its streams
//! show under its request name exactly as HTTP ones do: time to first byte, time to first event,
//! the gaps between events, events, chunks and total time (the report's `StreamMetrics`, the
//! threshold prefixes `first_byte:`, `first_event:`, `gap:`, `stream:`, live metrics, merge).
//!
//! A caller times the request from its start, calls [`StreamTimer::chunk`] for each piece that
//! arrives and [`StreamTimer::event`] for each event (a server-sent event, a gRPC message), and
//! at the end records the request itself as any request ([`super::WorkerMetrics::request`]) and the
//! stream with [`StreamTimer::end`] and [`super::WorkerMetrics::stream_end`].

use super::recorder::Metrics;
use super::worker::StreamEnd;
use std::time::Duration;
use tokio::time::Instant;

/// One stream's times so far, from its request's start.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamTimer {
    started: Instant,
    first_byte_us: Option<u64>,
    first_event_us: Option<u64>,
    last_event: Option<Instant>,
    chunks: u64,
}

impl StreamTimer {
    /// A stream whose request started at `started`.
    pub(crate) fn new(started: Instant) -> StreamTimer {
        StreamTimer {
            started,
            first_byte_us: None,
            first_event_us: None,
            last_event: None,
            chunks: 0,
        }
    }

    /// When the request started.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// A piece of the stream (a body chunk, a frame) arrived at `at`.
    pub(crate) fn chunk(&mut self, at: Instant) {
        self.chunks += 1;
        if self.first_byte_us.is_none() {
            self.first_byte_us = Some(micros(at - self.started));
        }
    }

    /// An event of the stream (a server-sent event, a message) arrived at `at`: counted, and
    /// its gap since the stream's previous event recorded at once under `name` (so live metrics
    /// see it while the stream runs).
    pub(crate) fn event(&mut self, metrics: &Metrics, name: &str, at: Instant) {
        let gap = self.last_event.map(|last| micros(at - last));
        if self.first_event_us.is_none() {
            self.first_event_us = Some(micros(at - self.started));
        }
        self.last_event = Some(at);
        metrics.with(|s| s.stream_event(name, gap));
    }

    /// How the stream ended at `at`, broken off or not, for [`super::WorkerMetrics::stream_end`].
    pub(crate) fn end(&self, at: Instant, broken: bool) -> StreamEnd {
        StreamEnd {
            first_byte_us: self.first_byte_us,
            first_event_us: self.first_event_us,
            duration_us: micros(at - self.started),
            chunks: self.chunks,
            broken,
        }
    }
}

/// Whole microseconds, saturating.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of three events 20 ms apart after a first byte at 5 ms: its gaps are recorded
    /// as the events come, its first times and its end when it ends.
    #[tokio::test(start_paused = true)]
    async fn a_streams_times_are_from_its_start_and_its_gaps_between_events() {
        let metrics = Metrics::new();
        // A histogram's largest value, as recorded (its max is the top of that value's bucket).
        let top = |h: &crate::metrics::hdr::Hist| h.lowest_equivalent(h.max());
        let start = Instant::now();
        let mut t = StreamTimer::new(start);
        let ms = Duration::from_millis;
        t.chunk(start + ms(5));
        for i in 0..3 {
            let at = start + ms(10 + 20 * i);
            t.chunk(at);
            t.event(&metrics, "chat", at);
        }
        let gaps = metrics.merged().requests["chat"]
            .stream
            .as_ref()
            .map(|s| (s.events, s.gap.len(), s.gap.min(), top(&s.gap)));
        assert_eq!(gaps, Some((3, 2, 20_000, 20_000)));
        let end = t.end(start + ms(60), false);
        assert_eq!(
            end,
            StreamEnd {
                first_byte_us: Some(5_000),
                first_event_us: Some(10_000),
                duration_us: 60_000,
                chunks: 4,
                broken: false,
            }
        );
        metrics.with(|s| s.stream_end("chat", &end));
        let merged = metrics.merged();
        let s = merged.requests["chat"].stream.as_deref().unwrap();
        assert_eq!((s.streams, s.broken, s.chunks), (1, 0, 4));
        assert_eq!(
            (top(&s.first_byte), top(&s.first_event), top(&s.duration)),
            (5_000, 10_000, 60_000)
        );
    }
}
