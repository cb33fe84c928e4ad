//! The three patch formats kubectl sends: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
//! and Kubernetes' strategic merge patch.
//! Server-side apply and field ownership live in [`apply`].

pub mod apply;
pub mod json;
pub mod merge;
pub mod strategic;

/// Why a patch could not be applied; the message is shown to the user by kubectl.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(pub String);

impl PatchError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}
