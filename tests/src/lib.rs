//! Shared support for the workspace-level tests: the captured Pyro4 vectors and
//! the Python Pyro4 4.82 environment the interop tests run against.
#![forbid(unsafe_code)]

pub mod python;
pub mod replay;
pub mod servants;
pub mod suite;
pub mod vectors;
