//! Command-line parsing and the exit codes of `pyro`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pyro_proto::serialize::SerializerId;

use crate::{echoserver, naming};
use pyro_proto::naming::{NS_BCPORT, NS_PORT};

/// Success.
pub const EXIT_OK: u8 = 0;
/// The remote method raised an exception (printed as Python shows it).
pub const EXIT_REMOTE_ERROR: u8 = 1;
/// The command line itself is wrong (unknown option, missing argument).
pub const EXIT_USAGE: u8 = 2;
/// An argument is unusable: not a Python literal, a bad `--kw`, a bad URI,
/// an unknown serializer, or something the tool does not support yet.
pub const EXIT_BAD_ARGUMENT: u8 = 3;
/// Communication failed: cannot bind or connect, connection refused or
/// lost, handshake rejected (e.g. wrong HMAC key), timeout.
pub const EXIT_COMMUNICATION: u8 = 4;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the remote method raised an exception (remote traceback printed on stderr);
     nsc: the name server refused the command
  2  wrong command line (unknown option, missing argument)
  3  unusable argument: not a Python literal, bad --kw, bad URI, unknown
     serializer, or an option that is not supported yet
  4  communication failure: cannot bind or connect, connection lost,
     handshake refused (wrong HMAC key?), timeout, no name server found";

/// Pyro4-compatible command-line tools (Pyro4 4.82, wire protocol 48).
#[derive(Debug, Parser)]
#[command(name = "pyro", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Pyro's test echo server (the twin of `pyro4-test-echoserver` /
    /// `python -m Pyro4.test.echoserver`).
    ///
    /// Serves the object `test.echoserver` with the methods echo, error,
    /// error_with_text, oneway_echo, slow, oneway_slow, generator, nan, inf
    /// and shutdown, and the property verbose. Prints its URI, then serves
    /// until a client calls shutdown() or Ctrl-C / SIGTERM arrives. With -n
    /// it registers `test.echoserver` with a name server (clients then use
    /// PYRONAME:test.echoserver); -N starts that name server in-process.
    #[command(after_help = EXIT_CODES)]
    Echoserver(EchoserverArgs),
    /// Call a method of a Pyro object and print the result as Python's repr.
    ///
    /// Arguments are Python literals: 42, 'text', b'bytes', [1, (2, 3)],
    /// {'a': 1}, {1, 2}, 1+2j, None, True. Expressions are not evaluated:
    /// write 2**70 as 1180591620717411303424. A generator's items are
    /// printed one per line. A remote exception is printed like Python's
    /// Pyro4.util.getPyroTraceback() shows it: the remote traceback, then
    /// `Class: message`.
    #[command(after_help = EXIT_CODES)]
    Call(CallArgs),
    /// Connect to the daemon of a Pyro URI and ping it (the handshake, then
    /// Pyro.Daemon's ping()), printing the round-trip time.
    #[command(after_help = EXIT_CODES)]
    Ping(PingArgs),
    /// Run a Pyro4 name server (the twin of `pyro4-ns` /
    /// `python -m Pyro4.naming`).
    ///
    /// Prints the lines Python's name server prints (broadcast server,
    /// `NS running on host:port (ip)`, its URI), then serves until Ctrl-C /
    /// SIGTERM and prints `NS shut down.`. Registrations are kept in memory.
    /// A broadcast responder (for clients that locate the name server by
    /// UDP broadcast) runs unless -x is given or the host is a loopback or
    /// IPv6 address, as in Python.
    #[command(after_help = EXIT_CODES)]
    Ns(NsArgs),
    // This text is also clap's `--help`, so its brackets stay unescaped.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// Name server control: the twin of `pyro4-nsc` / `python -m Pyro4.nsc`.
    ///
    /// Commands: list [prefix], listmatching REGEX, listmeta_all TAG...
    /// (alias yplookup_all), listmeta_any TAG... (alias yplookup_any),
    /// lookup NAME, register NAME URI, remove NAME, removematching REGEX
    /// (asks for confirmation on stdin), setmeta NAME [TAG...], ping. The
    /// name server is located as Python's locateNS does: -n host, else
    /// localhost, else a UDP broadcast. Prints exactly what Python's nsc
    /// prints, including its `Error: ...` lines (on stdout); unlike Python
    /// it then exits with code 4 (name server not found) or 1 (the command
    /// failed).
    #[command(after_help = EXIT_CODES)]
    Nsc(NscArgs),
}

/// Options of `pyro ns`, as in Pyro4's `naming.main()`.
#[derive(Debug, Args)]
pub struct NsArgs {
    /// Hostname to bind server on (Pyro4's HOST).
    #[arg(short = 'n', long, env = "PYRO_HOST", default_value = "localhost")]
    pub host: String,
    /// Port to bind server on (0=random; Pyro4's NS_PORT).
    #[arg(short, long, env = "PYRO_NS_PORT", default_value_t = NS_PORT)]
    pub port: u16,
    /// Unix domain socket name to bind server on (instead of host/port).
    #[arg(short, long, value_name = "PATH")]
    pub unixsocket: Option<PathBuf>,
    /// Storage system to use: only `memory` is supported (Python also has
    /// dbm:file and sql:file).
    #[arg(short, long, default_value = "memory")]
    pub storage: String,
    /// Hostname to bind broadcast server on (default: all interfaces).
    #[arg(long, env = "PYRO_NS_BCHOST")]
    pub bchost: Option<String>,
    /// Port to bind broadcast server on (0=random; Pyro4's NS_BCPORT).
    #[arg(long, env = "PYRO_NS_BCPORT", default_value_t = NS_BCPORT)]
    pub bcport: u16,
    /// External hostname in case of NAT.
    #[arg(long, env = "PYRO_NATHOST")]
    pub nathost: Option<String>,
    /// External port in case of NAT (default: the bound port).
    #[arg(long, env = "PYRO_NATPORT")]
    pub natport: Option<u16>,
    /// Don't start a broadcast server.
    #[arg(short = 'x', long)]
    pub nobc: bool,
    /// The HMAC key to use (deprecated: visible in the process list; set
    /// PYRO_HMAC_KEY instead).
    #[arg(short, long)]
    pub key: Option<String>,
}

/// Options of `pyro nsc`, as in Pyro4's `nsc.main()`.
#[derive(Debug, Args)]
pub struct NscArgs {
    /// The command and its arguments (see above).
    #[arg(required = true, value_name = "COMMAND [ARGUMENTS]")]
    pub command: Vec<String>,
    /// Hostname of the NS.
    #[arg(short = 'n', long)]
    pub host: Option<String>,
    /// Port of the NS (or bc-port if host isn't specified).
    #[arg(short, long)]
    pub port: Option<u16>,
    /// Unix domain socket name of the NS.
    #[arg(short, long, value_name = "PATH")]
    pub unixsocket: Option<String>,
    /// The HMAC key to use (deprecated: visible in the process list; set
    /// PYRO_HMAC_KEY instead).
    #[arg(short, long)]
    pub key: Option<String>,
    /// Verbose output.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Options of `pyro echoserver`, as in Pyro4's echoserver script.
#[derive(Debug, Args)]
pub struct EchoserverArgs {
    /// Hostname to bind server on.
    #[arg(short = 'H', long, default_value = "localhost")]
    pub host: String,
    /// Port to bind server on (0: a free port).
    #[arg(short, long, default_value_t = 0)]
    pub port: u16,
    /// Unix domain socket name to bind server on (instead of host/port).
    #[arg(short, long, value_name = "PATH")]
    pub unixsocket: Option<PathBuf>,
    /// Register with the name server (found as Pyro4's locateNS does:
    /// localhost, then UDP broadcast) as `test.echoserver`.
    #[arg(short = 'n', long)]
    pub naming: bool,
    /// Also start a name server, on --host and the name server port, in
    /// this process (implies -n).
    #[arg(short = 'N', long)]
    pub nameserver: bool,
    /// The name server port for -n/-N (Pyro4's NS_PORT).
    #[arg(long, env = "PYRO_NS_PORT", default_value_t = NS_PORT)]
    pub ns_port: u16,
    /// The broadcast port of the -N name server (Pyro4's NS_BCPORT).
    #[arg(long, env = "PYRO_NS_BCPORT", default_value_t = NS_BCPORT)]
    pub ns_bcport: u16,
    /// Verbose output: a line for every call.
    #[arg(short, long)]
    pub verbose: bool,
    /// Don't output anything.
    #[arg(short, long)]
    pub quiet: bool,
    /// The HMAC key to use (deprecated: visible in the process list; set
    /// PYRO_HMAC_KEY instead).
    #[arg(short, long)]
    pub key: Option<String>,
    /// Serializers clients may use, comma-separated (Pyro4's
    /// SERIALIZERS_ACCEPTED). Add pickle only on trusted networks.
    #[arg(
        long,
        env = "PYRO_SERIALIZERS_ACCEPTED",
        default_value = "serpent,marshal,json",
        value_name = "LIST"
    )]
    pub serializers: String,
}

/// Options of `pyro call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The object's URI, e.g. PYRO:test.echoserver@localhost:9999.
    pub uri: String,
    /// The method to call.
    pub method: String,
    /// Positional arguments, each a Python literal.
    #[arg(allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// A keyword argument, name=literal (repeatable).
    #[arg(long = "kw", value_name = "NAME=LITERAL")]
    pub kwargs: Vec<String>,
    #[command(flatten)]
    /// Connection options.
    pub conn: ConnArgs,
    /// Call as a oneway method: send the call, do not wait for a result.
    #[arg(long)]
    pub oneway: bool,
}

/// Options of `pyro ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// A URI of any object of the daemon, e.g. PYRO:test.echoserver@localhost:9999.
    pub uri: String,
    #[command(flatten)]
    /// Connection options.
    pub conn: ConnArgs,
}

/// What a Pyro4 proxy is configured with.
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// Serializer: serpent, json, marshal or pickle (Pyro4's SERIALIZER).
    #[arg(long, env = "PYRO_SERIALIZER", default_value = "serpent")]
    pub serializer: String,
    /// The HMAC key shared with the daemon (Pyro4's _pyroHmacKey).
    #[arg(long, env = "PYRO_HMAC_KEY", hide_env_values = true)]
    pub hmac_key: Option<String>,
    /// Seconds to wait for connecting and for each reply (Pyro4's
    /// COMMTIMEOUT / _pyroTimeout); none by default.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
}

/// A failure with its exit code; printed as one line on stderr.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// The message.
    pub message: String,
}

impl Failure {
    /// A failure exiting with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Parse a comma-separated list of serializer names.
pub fn parse_serializers(list: &str) -> Result<Vec<SerializerId>, Failure> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            SerializerId::from_name(name).ok_or_else(|| {
                Failure::new(
                    EXIT_BAD_ARGUMENT,
                    format!(
                        "unknown serializer '{name}' (choose from serpent, json, marshal, pickle)"
                    ),
                )
            })
        })
        .collect()
}

/// The HMAC key of Pyro4's scripts: `-k` (with its deprecation warning)
/// or `PYRO_HMAC_KEY`, not both.
fn hmac_key(key: Option<String>) -> Result<String, Failure> {
    let env_key = std::env::var("PYRO_HMAC_KEY").ok();
    if key.is_some() {
        eprintln!(
            "warning: using -k to supply HMAC key on the command line is a security problem \
             and is deprecated since Pyro 4.72. Set PYRO_HMAC_KEY instead."
        );
        if env_key.is_some() {
            return Err(Failure::new(
                EXIT_USAGE,
                "don't use -k and PYRO_HMAC_KEY at the same time",
            ));
        }
    }
    Ok(key.or(env_key).unwrap_or_default())
}

fn echoserver(args: EchoserverArgs) -> Result<(), Failure> {
    let key = hmac_key(args.key)?;
    let serializers = parse_serializers(&args.serializers)?;
    let options = echoserver::Options {
        host: args.host,
        port: args.port,
        unixsocket: args.unixsocket,
        verbose: args.verbose,
        quiet: args.quiet,
        hmac_key: key.into_bytes(),
        serializers,
        naming: args.naming || args.nameserver,
        nameserver: args.nameserver,
        ns_port: args.ns_port,
        ns_bcport: args.ns_bcport,
    };
    echoserver::run(&options).map_err(|e| Failure::new(EXIT_COMMUNICATION, e.to_string()))
}

fn ns(args: NsArgs) -> Result<(), Failure> {
    let key = hmac_key(args.key)?;
    if args.storage != "memory" {
        return Err(Failure::new(
            EXIT_BAD_ARGUMENT,
            format!(
                "storage '{}' is not supported: pyro ns keeps registrations in memory only \
                 (-s memory)",
                args.storage
            ),
        ));
    }
    let options = naming::NsOptions {
        host: args.host,
        port: args.port,
        unixsocket: args.unixsocket,
        bchost: args.bchost,
        bcport: args.bcport,
        nat: args.nathost.map(|h| (h, args.natport.unwrap_or(0))),
        broadcast: !args.nobc,
        hmac_key: key.into_bytes(),
    };
    naming::run_ns(&options).map_err(|e| Failure::new(EXIT_COMMUNICATION, e.to_string()))
}

fn nsc(args: NscArgs) -> Result<(), Failure> {
    let key = hmac_key(args.key)?;
    let options = naming::NscOptions {
        host: args.host,
        port: args.port,
        unixsocket: args.unixsocket,
        hmac_key: key.into_bytes(),
        verbose: args.verbose,
    };
    let mut out = std::io::stdout().lock();
    let mut input = std::io::stdin().lock();
    match naming::run_nsc(&options, &args.command, &mut out, &mut input) {
        Ok(naming::NscOutcome::Ok) => Ok(()),
        Ok(naming::NscOutcome::NotFound) => Err(Failure::new(EXIT_COMMUNICATION, "")),
        Ok(naming::NscOutcome::Failed) => Err(Failure::new(EXIT_REMOTE_ERROR, "")),
        Err(usage) => Err(Failure::new(EXIT_USAGE, usage.to_string())),
    }
}

/// Run `pyro` with the process's arguments; returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Echoserver(args) => echoserver(args),
        Command::Call(args) => crate::client::call(args),
        Command::Ping(args) => crate::client::ping(args),
        Command::Ns(args) => ns(args),
        Command::Nsc(args) => nsc(args),
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("pyro: error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serializer_lists() {
        assert_eq!(
            parse_serializers("serpent, json").unwrap(),
            [SerializerId::Serpent, SerializerId::Json]
        );
        assert_eq!(
            parse_serializers("yaml").unwrap_err().code,
            EXIT_BAD_ARGUMENT
        );
    }
}
