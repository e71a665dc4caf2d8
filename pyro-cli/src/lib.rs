//! The `pyro` command-line tool: Pyro4's test echo server, name server
//! (`pyro4-ns`) and name server control tool (`pyro4-nsc`) in Rust, and a
//! client that calls or pings any Pyro4 object from the shell.
//!
//! The binary is a thin wrapper around [`cli::main`]; the pieces are public
//! so that tests (and other tools) can use them (Python's `repr` of a value is
//! `pyro_proto::value::repr::py_repr`): [`literal::parse_literal`] reads Python
//! literals, [`echoserver`] holds the `EchoServer` servant, [`naming`] the `ns`
//! and `nsc` commands.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod echoserver;
pub mod literal;
pub mod naming;
