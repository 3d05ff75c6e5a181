//! What every handler works with: the worker, the catalog, the config, the jobs in flight.

use std::sync::Arc;

use smolvlm_worker::Worker;

use crate::catalog::ModelCatalog;
use crate::config::ServerConfig;
use crate::job::ActiveJobs;

#[derive(Clone)]
pub struct AppState {
    pub worker: Worker,
    pub catalog: Arc<dyn ModelCatalog>,
    pub config: Arc<ServerConfig>,
    pub active: ActiveJobs,
}
