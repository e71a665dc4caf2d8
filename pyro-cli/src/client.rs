//! `pyro call` and `pyro ping`: a Pyro4 proxy driven from the shell.

use crate::cli::{CallArgs, Failure, PingArgs, EXIT_BAD_ARGUMENT};

/// `pyro call`.
pub fn call(args: CallArgs) -> Result<(), Failure> {
    let _ = args;
    Err(Failure::new(
        EXIT_BAD_ARGUMENT,
        "pyro call is not available yet",
    ))
}

/// `pyro ping`.
pub fn ping(args: PingArgs) -> Result<(), Failure> {
    let _ = args;
    Err(Failure::new(
        EXIT_BAD_ARGUMENT,
        "pyro ping is not available yet",
    ))
}
