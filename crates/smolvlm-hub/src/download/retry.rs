//! The retry policy: which failures are worth another try (5xx, 408, 429, timeouts, stalls, cut
//! connections) and how long to wait (exponential backoff with jitter, capped); the typed error
//! when the tries run out.

use std::time::Duration;

use crate::error::HubError;

/// The outcome of one failed request.
pub(super) enum Failure {
    /// Worth another try: a 5xx/408/429 status, or a transport error (`status` None).
    Transient {
        status: Option<u16>,
        reason: String,
    },
    Fatal(HubError),
}

impl Failure {
    /// A cut connection, stall or malformed transfer (no HTTP status).
    pub(super) fn transport(reason: impl Into<String>) -> Self {
        Failure::Transient {
            status: None,
            reason: reason.into(),
        }
    }
}

/// How many times and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    pub(super) max_retries: u32,
    pub(super) base: Duration,
    pub(super) max: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `attempt + 1`: `base · 2^attempt`, at most `max`, plus up to
    /// a quarter of that as jitter.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter_cap = (exp.as_millis() as u64 / 4).max(1);
        exp + Duration::from_millis(u64::from(nanos) % jitter_cap)
    }

    /// Whether `attempt` failed tries (since the last progress) exhaust the policy.
    pub(super) fn exhausted(&self, attempt: u32) -> bool {
        attempt >= self.max_retries
    }

    /// After a transient failure when `*attempt` tries have failed before: the error to give up
    /// with once the policy is exhausted, else the wait before the next try (which `*attempt`
    /// then counts).
    pub(super) fn next_wait(
        &self,
        attempt: &mut u32,
        endpoint: &str,
        what: &str,
        status: Option<u16>,
        reason: &str,
    ) -> Result<Duration, HubError> {
        if self.exhausted(*attempt) {
            return Err(give_up(
                endpoint,
                what,
                status,
                reason.to_string(),
                *attempt + 1,
            ));
        }
        let wait = self.backoff(*attempt);
        *attempt += 1;
        Ok(wait)
    }
}

/// Types a `ureq` error: auth and not-found are final, server trouble and transport errors are
/// retried.
pub(super) fn classify(err: ureq::Error, what: &str) -> Failure {
    match err {
        ureq::Error::Status(status, _) => match status {
            401 | 403 => Failure::Fatal(HubError::Unauthorized {
                what: what.to_string(),
                status,
            }),
            404 => Failure::Fatal(HubError::NotFound {
                what: what.to_string(),
            }),
            408 | 429 | 500..=599 => Failure::Transient {
                status: Some(status),
                reason: format!("HTTP {status}"),
            },
            _ => Failure::Fatal(HubError::Http {
                what: what.to_string(),
                status,
            }),
        },
        ureq::Error::Transport(t) => Failure::transport(t.to_string()),
    }
}

/// The error once the retries are spent: the last server status, else a network error.
pub(super) fn give_up(
    endpoint: &str,
    what: &str,
    status: Option<u16>,
    reason: String,
    attempts: u32,
) -> HubError {
    match status {
        Some(status) => HubError::Server {
            what: what.to_string(),
            status,
            attempts,
        },
        None => HubError::Network {
            endpoint: endpoint.to_string(),
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let first = p.backoff(0);
        assert!(first >= Duration::from_millis(100) && first < Duration::from_millis(126));
        let capped = p.backoff(10);
        assert!(capped >= Duration::from_millis(500) && capped < Duration::from_millis(626));
        assert!(!p.exhausted(2) && p.exhausted(3));
    }

    #[test]
    fn give_up_keeps_the_last_status() {
        let e = give_up("http://h", "x", Some(502), "HTTP 502".into(), 4);
        assert!(matches!(
            e,
            HubError::Server {
                status: 502,
                attempts: 4,
                ..
            }
        ));
        let e = give_up("http://h", "x", None, "reset".into(), 2);
        assert!(matches!(e, HubError::Network { ref endpoint, .. } if endpoint == "http://h"));
    }
}
