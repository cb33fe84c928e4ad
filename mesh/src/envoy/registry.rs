//! Which pod runs which Envoy: its admin address, PID and base id, while it runs.
//!
//! The registry is process-wide (one mesh per process in practice); an entry is added when a
//! pod's Envoy has started and removed when that same process ends, so a restarted Envoy
//! replaces its predecessor's entry and a late removal of the old one cannot erase the new.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock, PoisonError};

/// A running Envoy as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// The container running it (`istio-proxy`).
    pub container: String,
    /// The admin interface (127.0.0.1:PORT).
    pub admin: SocketAddr,
    /// The process id.
    pub pid: u32,
    /// The `--base-id` it uses.
    pub base_id: u64,
}

type Key = (String, String);

fn entries() -> &'static Mutex<HashMap<Key, Registered>> {
    static ENTRIES: OnceLock<Mutex<HashMap<Key, Registered>>> = OnceLock::new();
    ENTRIES.get_or_init(Mutex::default)
}

/// The admin address of the Envoy running in pod `namespace/pod`, if one runs.
pub fn admin_address(namespace: &str, pod: &str) -> Option<SocketAddr> {
    registered(namespace, pod).map(|r| r.admin)
}

/// The Envoy running in pod `namespace/pod`, if one runs.
pub fn registered(namespace: &str, pod: &str) -> Option<Registered> {
    entries()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(namespace.to_owned(), pod.to_owned()))
        .cloned()
}

/// Records the Envoy a pod now runs.
pub(crate) fn register(namespace: &str, pod: &str, entry: Registered) {
    entries()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert((namespace.to_owned(), pod.to_owned()), entry);
}

/// Forgets the pod's Envoy if it is still process `pid`.
pub(crate) fn unregister(namespace: &str, pod: &str, pid: u32) {
    let mut map = entries().lock().unwrap_or_else(PoisonError::into_inner);
    let key = (namespace.to_owned(), pod.to_owned());
    if map.get(&key).is_some_and(|e| e.pid == pid) {
        map.remove(&key);
    }
}
