//! A watch on one resource: the backlog it starts with, then live events from the store.

use std::collections::VecDeque;

use tokio::sync::broadcast;

use super::{ResourceKey, StoreError, WatchEvent};

/// Which events a watch wants.
#[derive(Clone, Debug)]
pub(super) struct Filter {
    /// `None` watches every resource.
    pub resource: Option<ResourceKey>,
    pub namespace: Option<String>,
}

impl Filter {
    pub(super) fn matches(&self, event: &WatchEvent) -> bool {
        self.resource.as_ref().is_none_or(|r| *r == event.resource)
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| crate::meta::namespace(&event.object).unwrap_or("") == ns)
    }
}

/// A stream of changes to one resource (or to all of them), in resourceVersion order.
#[derive(Debug)]
pub struct Watch {
    filter: Filter,
    backlog: VecDeque<WatchEvent>,
    live: broadcast::Receiver<WatchEvent>,
    last_rv: u64,
}

impl Watch {
    pub(super) fn new(
        filter: Filter,
        backlog: VecDeque<WatchEvent>,
        live: broadcast::Receiver<WatchEvent>,
        current_rv: u64,
    ) -> Self {
        Self {
            filter,
            backlog,
            live,
            last_rv: current_rv,
        }
    }

    /// The next event; `Err(Gone)` when this watcher fell too far behind (the client should re-list),
    /// `None` when the store is gone.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        if let Some(event) = self.backlog.pop_front() {
            return Some(Ok(event));
        }
        loop {
            match self.live.recv().await {
                Ok(event) => {
                    // Events already delivered from the backlog may also arrive live.
                    if event.resource_version <= self.last_rv || !self.filter.matches(&event) {
                        continue;
                    }
                    self.last_rv = event.resource_version;
                    return Some(Ok(event));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(Err(StoreError::Gone {
                        requested: self.last_rv,
                        oldest: self.last_rv + 1,
                    }));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
