//! Whether the hub can be reached: a TCP connection to its endpoint, trusted for a while.

use std::time::{Duration, Instant};

use super::{HubStatus, ModelManager};
use crate::sync::lock;

/// How long a hub reachability probe is trusted.
const PROBE_TTL: Duration = Duration::from_secs(30);
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl ModelManager {
    /// Offline when `HF_HUB_OFFLINE` says so or the endpoint cannot be reached (probed at most
    /// every 30 s).
    pub fn hub_status(&self) -> HubStatus {
        let offline = self.hub.offline || !self.reachable();
        HubStatus {
            offline,
            endpoint: self.hub.endpoint.clone(),
        }
    }

    fn reachable(&self) -> bool {
        if let Some((at, ok)) = *lock(&self.probe)
            && at.elapsed() < PROBE_TTL
        {
            return ok;
        }
        let ok = probe(&self.hub.endpoint);
        *lock(&self.probe) = Some((Instant::now(), ok));
        ok
    }
}

/// Whether a TCP connection to the endpoint's host opens.
fn probe(endpoint: &str) -> bool {
    use std::net::{TcpStream, ToSocketAddrs};
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let default_port = if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        443
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) => (
                h.to_string(),
                p.strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(default_port),
            ),
            None => return false,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => match p.parse() {
                Ok(p) => (h.to_string(), p),
                Err(_) => return false,
            },
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() {
        return false;
    }
    let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else {
        return false;
    };
    addrs
        .take(4)
        .any(|a| TcpStream::connect_timeout(&a, PROBE_TIMEOUT).is_ok())
}
