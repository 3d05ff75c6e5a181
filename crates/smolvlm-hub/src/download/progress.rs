//! Progress reporting: the events a download streams, and the one throttle of progress events
//! in the project (the app forwards the hub's events as they come).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::listing::PlannedFile;

/// The default of [`HubConfig::progress_interval`](super::HubConfig::progress_interval): at
/// most ten [`DownloadEvent::Progress`] a second, plus the first and the last chunk of every
/// file, which are always reported.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Progress, as a stream of events; the app forwards them to its UI.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DownloadEvent {
    /// The hub answered: what will be fetched.
    Plan {
        repo: String,
        revision: String,
        commit: String,
        files: Vec<PlannedFile>,
        total_bytes: u64,
        to_transfer_bytes: u64,
    },
    FileStarted {
        file: String,
        size: u64,
        resume_from: u64,
    },
    /// Throttled to one per [`HubConfig::progress_interval`](super::HubConfig::progress_interval);
    /// the first chunk of each file and the one that completes it (`file_done == file_total`)
    /// are always sent.
    Progress {
        file: String,
        file_done: u64,
        file_total: u64,
        done: u64,
        total: u64,
        bytes_per_sec: f64,
        eta_s: Option<f64>,
    },
    Retrying {
        file: Option<String>,
        attempt: u32,
        wait_ms: u64,
        reason: String,
    },
    FileDone {
        file: String,
        size: u64,
        cached: bool,
    },
    Finished {
        dir: PathBuf,
        transferred_bytes: u64,
    },
}

/// Overall progress with a rate over the last few seconds, and the throttle of its events.
pub(super) struct Meter {
    pub(super) total: u64,
    pub(super) done: u64,
    samples: VecDeque<(Instant, u64)>,
    last_emit: Option<Instant>,
    interval: Duration,
}

impl Meter {
    pub(super) fn new(total: u64, done: u64, interval: Duration) -> Self {
        Self {
            total,
            done,
            samples: VecDeque::new(),
            last_emit: None,
            interval,
        }
    }

    pub(super) fn add(&mut self, n: u64) {
        self.done += n;
        let now = Instant::now();
        self.samples.push_back((now, self.done));
        while self.samples.len() > 2
            && now.duration_since(self.samples[0].0) > Duration::from_secs(3)
        {
            self.samples.pop_front();
        }
    }

    /// Takes back bytes counted for a partial that is being thrown away.
    pub(super) fn forget(&mut self, n: u64) {
        self.done = self.done.saturating_sub(n);
    }

    pub(super) fn rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) as f64 / (b.0 - a.0).as_secs_f64(),
            _ => 0.0,
        }
    }

    /// Seconds left at the current rate, if there is one.
    pub(super) fn eta_s(&self) -> Option<f64> {
        let rate = self.rate();
        let remaining = self.total.saturating_sub(self.done);
        (rate > 0.0).then(|| remaining as f64 / rate)
    }

    /// The next event is due at once (a file starts: its first chunk is always reported).
    pub(super) fn reset_throttle(&mut self) {
        self.last_emit = None;
    }

    /// Whether to emit now: at most once per interval, always when `force` (the end of a file)
    /// or after [`Meter::reset_throttle`].
    pub(super) fn due(&mut self, force: bool) -> bool {
        let now = Instant::now();
        let due = force
            || self
                .last_emit
                .is_none_or(|t| now.duration_since(t) >= self.interval);
        if due {
            self.last_emit = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_lets_the_first_and_forced_events_through() {
        let mut m = Meter::new(100, 0, Duration::from_secs(3600));
        assert!(m.due(false), "the first event is due");
        assert!(!m.due(false), "then nothing until the interval passes");
        assert!(m.due(true), "the end of a file is always due");
        assert!(!m.due(false));
        m.reset_throttle();
        assert!(m.due(false), "a new file's first chunk is due");

        let mut every = Meter::new(100, 0, Duration::ZERO);
        assert!(every.due(false) && every.due(false));
    }

    #[test]
    fn rate_and_eta_follow_the_samples() {
        let mut m = Meter::new(100, 10, PROGRESS_INTERVAL);
        assert_eq!(m.rate(), 0.0);
        assert_eq!(m.eta_s(), None);
        m.add(10);
        std::thread::sleep(Duration::from_millis(5));
        m.add(10);
        assert_eq!(m.done, 30);
        assert!(m.rate() > 0.0);
        assert!(m.eta_s().is_some_and(|s| s > 0.0));
        m.forget(50);
        assert_eq!(m.done, 0);
    }
}
