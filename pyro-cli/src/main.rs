//! `pyro`: see `pyro --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    pyro_cli::cli::main()
}
