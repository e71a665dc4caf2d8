//! Pyro URIs (placeholder until the uri module lands).

/// A parsed Pyro URI (placeholder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri;
