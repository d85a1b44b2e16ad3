//! `turtle`: an etcd cluster as services see it, from the shell.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use turtle_cli::dev_cluster;
use turtle_finder::{settings_table, Config, Error, ErrorKind, ServiceFinder};

mod command;
mod print;

const EXIT_CODES: &str = "\
Exit codes:
  0  done (watch and register: ended by Ctrl-C, SIGTERM, SIGHUP or a closed stdout)
  1  the cluster could not do it (unreachable, no leader, permission denied, ...)
  2  usage error: bad arguments or settings
  3  get: the service is not registered
  4  health, dev-cluster status: a member is down or there is no leader
  5  lock: the lock was lost while the command ran (the command was sent SIGTERM);
     elect: the leadership was lost
  lock with a command: the command's exit status (128 + N when ended by signal N)";

/// An etcd cluster as services see it: lookups, watches, registrations, members, health
/// and metrics through turtle-finder, and a local 3-member cluster for development.
#[derive(Parser)]
#[command(name = "turtle", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
pub(crate) struct Global {
    /// The members, comma-separated (host:port, http:// or https://). TLS, auth and
    /// discovery settings come from TURTLE_CA_FILE, TURTLE_USER, ... as for the library.
    #[arg(long, global = true, env = "TURTLE_ENDPOINTS")]
    pub(crate) endpoints: Option<String>,
    #[arg(long, global = true, value_name = "SECONDS", help = setting_help("--timeout"))]
    pub(crate) timeout: Option<f64>,
    /// Print JSON (one document, or one line per event for watch and register).
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

impl Global {
    /// The printer of the format asked for.
    pub(crate) fn printer(&self) -> print::Printer {
        print::Printer { json: self.json }
    }
}

/// A flag's help: the setting it sets and its default, from the core's table.
fn setting_help(flag: &str) -> String {
    let s = settings_table::by_cli(flag).expect("a flag of the settings table");
    format!(
        "The {}, in seconds (default {}).",
        s.what,
        s.default.shown()
    )
}

#[derive(Subcommand)]
enum Command {
    /// Print the value of service NAME (the key <prefix>NAME).
    Get {
        /// The service name.
        name: String,
    },
    /// Print the value of service NAME, then one line per change until Ctrl-C.
    Watch {
        /// The service name.
        name: String,
    },
    /// List the registered instances of service NAME.
    Instances {
        /// The service name.
        name: String,
    },
    /// Register an instance of service NAME at ADDR and hold it until Ctrl-C, then revoke
    /// it.
    Register {
        /// The service name.
        name: String,
        /// The address clients connect to.
        addr: String,
        /// The lease's time to live, in whole seconds.
        #[arg(long, default_value_t = turtle_finder::DEFAULT_TTL.as_secs())]
        ttl: u64,
        /// JSON stored with the address.
        #[arg(long)]
        metadata: Option<String>,
        /// The last segment of the key (default: the address).
        #[arg(long)]
        id: Option<String>,
    },
    /// Take the lock NAME (the same lock as `etcdctl lock NAME`), waiting until it is
    /// had, then run COMMAND under it with its fencing token in TURTLE_LOCK_TOKEN and its
    /// key in TURTLE_LOCK_KEY, and let go when it exits; without a command, hold it until
    /// Ctrl-C, SIGTERM or SIGHUP. Signals go on to the command.
    Lock {
        /// The lock's name (its keys are NAME/<lease id in hex>).
        name: String,
        /// The lease's time to live, in whole seconds: how long the lock outlives this
        /// process if it stops answering.
        #[arg(long, default_value_t = 10)]
        ttl: u64,
        /// The command to run under the lock, and its arguments (after --).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Campaign in election NAME with VALUE (the same election as `etcdctl elect NAME`),
    /// lead until Ctrl-C, SIGTERM or SIGHUP, then resign; with --listen, print the leader
    /// (revision, key, value) and a line each time it changes.
    Elect {
        /// The election's name (its keys are NAME/<lease id in hex>).
        name: String,
        /// The value to lead with (not with --listen).
        #[arg(required_unless_present = "listen", conflicts_with = "listen")]
        value: Option<String>,
        /// Observe: print each leader instead of campaigning.
        #[arg(long, short = 'l')]
        listen: bool,
        /// The lease's time to live, in whole seconds.
        #[arg(long, default_value_t = 10)]
        ttl: u64,
    },
    /// List the cluster's members, the leader marked (etcdctl member list).
    Members,
    /// Ask every member for its status (etcdctl endpoint health/status); exit 4 when one
    /// is down or there is no leader.
    Health,
    /// Print metrics in Prometheus's text format: of this command's own client after it
    /// asked for the member list, or of a running finder's /metrics with --from.
    Metrics {
        /// A finder's metrics address (host:port) to read /metrics from.
        #[arg(long, value_name = "ADDR")]
        from: Option<String>,
    },
    /// Run a local etcd cluster on free 127.0.0.1 ports, for development.
    DevCluster {
        #[command(subcommand)]
        action: DevAction,
        /// Where its data, logs and pids live (default TURTLE_DEV_CLUSTER_DIR, else
        /// $XDG_STATE_HOME/turtle/dev-cluster).
        #[arg(long, global = true, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Clone, Copy)]
pub(crate) enum DevAction {
    /// Start the members (detached) and wait until they have a leader.
    Up {
        /// How many members.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
        members: u8,
    },
    /// Stop the members `up` started, and remove their data.
    Down,
    /// Show whether the members run and are healthy; exit 4 when not.
    Status,
}

/// How a command ends: an exit code and, for failures, one line for stderr.
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let code = match e.kind() {
            ErrorKind::InvalidArgument => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

pub(crate) fn failure(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

pub(crate) type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("turtle: {}", f.message.replace('\n', "; "));
            }
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Outcome {
    let g = &cli.global;
    match cli.command {
        Command::Get { name } => command::get::run(g, &name),
        Command::Watch { name } => command::watch::run(g, &name),
        Command::Instances { name } => command::instances::run(g, &name),
        Command::Register {
            name,
            addr,
            ttl,
            metadata,
            id,
        } => command::register::run(g, &name, &addr, ttl, metadata.as_deref(), id),
        Command::Lock { name, ttl, command } => command::lock::run(g, &name, ttl, &command),
        Command::Elect {
            name,
            value,
            listen,
            ttl,
        } => match (listen, value) {
            (false, Some(value)) => command::elect::run(g, &name, &value, ttl),
            _ => command::elect::listen(g, &name),
        },
        Command::Members => command::members::run(g),
        Command::Health => command::health::run(g),
        Command::Metrics { from } => command::metrics::run(g, from.as_deref()),
        Command::DevCluster { action, state_dir } => {
            let dir = state_dir.unwrap_or_else(dev_cluster::default_state_dir);
            command::dev::run(g, action, &dir)
        }
    }
}

/// The settings the global options and the environment give.
fn config(g: &Global) -> Result<Config, Error> {
    let mut cfg = match &g.endpoints {
        Some(e) => Config::new([e])?.with_env_settings()?,
        None => Config::from_env()?,
    };
    if let Some(t) = g.timeout {
        let d = Duration::try_from_secs_f64(t).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("--timeout {t} is not a number of seconds"),
            )
        })?;
        cfg = cfg.with_deadline(d);
    }
    Ok(cfg)
}

pub(crate) fn finder(g: &Global) -> Result<ServiceFinder, Error> {
    ServiceFinder::new(config(g)?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The global flags that are settings are the core's table's, and no other.
    #[test]
    fn setting_flags_are_the_table() {
        let cmd = Cli::command();
        let mut flags: Vec<String> = (cmd.get_arguments())
            .filter(|a| a.is_global_set() && a.get_id() != "json")
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        flags.sort();
        let mut table: Vec<String> = (settings_table::SETTINGS.iter())
            .flat_map(|s| s.cli.iter().map(|f| f.to_string()))
            .collect();
        table.sort();
        assert_eq!(flags, table, "turtle's global flags and the settings table");
        let help = setting_help("--timeout");
        assert_eq!(help, "The deadline of a call, in seconds (default 5 s).");
    }
}
