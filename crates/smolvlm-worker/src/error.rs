//! What the worker can answer instead of a result.

/// Every failure of a worker request; [`WorkerError::code`] is stable for callers to match.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("no model is loaded; load one first")]
    NoModel,
    #[error("{capacity} requests are already waiting for the model; try again shortly")]
    QueueFull { capacity: usize },
    #[error("the model worker crashed ({0}); it was restarted with no model loaded")]
    Panicked(String),
    #[error("the model worker is not answering")]
    Unavailable,
    #[error(transparent)]
    Engine(#[from] smolvlm::Error),
}

impl WorkerError {
    pub fn code(&self) -> &'static str {
        match self {
            WorkerError::NoModel => "no_model_loaded",
            WorkerError::QueueFull { .. } => "queue_full",
            WorkerError::Panicked(_) => "worker_panicked",
            WorkerError::Unavailable => "worker_unavailable",
            WorkerError::Engine(e) => e.code(),
        }
    }
}
