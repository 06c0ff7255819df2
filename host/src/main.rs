//! The `wasmdns` command line: `run` and `check`. The only user of `anyhow`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use wasmdns::app::Running;
use wasmdns::config::{self, Config};

/// A DNS forwarding proxy whose policies are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmdns", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve DNS until SIGTERM or SIGINT, then drain in-flight queries. SIGHUP reloads.
    Run(RunArgs),
    /// Validate a config file: prints "FILE: ok", or the error naming the key (exit code 1).
    Check {
        /// The config file to validate.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Config file (TOML); without it the built-in defaults apply.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to serve on, "ip:port"; repeat for several. Replaces server.listen.
    #[arg(long, value_name = "ADDR", value_parser = config::parse_listen_addr)]
    listen: Vec<SocketAddr>,
    /// Upstream resolver, "ip" or "ip:port"; repeat for several. Replaces upstream.servers.
    #[arg(long, value_name = "ADDR", value_parser = config::parse_upstream_addr)]
    upstream: Vec<SocketAddr>,
    /// Cache size in entries (0 disables, at most 100000000). Replaces cache.max_entries.
    #[arg(long, value_name = "N", value_parser = config::parse_cache_entries)]
    cache_entries: Option<u64>,
    /// Admin HTTP address, "ip:port". Replaces admin.listen (and enables it).
    #[arg(long, value_name = "ADDR", value_parser = config::parse_listen_addr)]
    admin: Option<SocketAddr>,
}

impl RunArgs {
    /// The flags that replace file values, on start and on every reload.
    fn overrides(&self) -> config::Overrides {
        config::Overrides {
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            cache_entries: self.cache_entries,
            admin: self.admin,
        }
    }

    /// The config file (or the defaults) with the command-line overrides applied.
    fn config(&self) -> Result<Config, config::ConfigError> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::defaults(),
        };
        self.overrides().apply(&mut config);
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Check { config } => check(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasmdns: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, skipping causes an outer message already quotes
/// (`ConfigError::Io` prints its `io::Error` and also exposes it as the source).
fn report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn check(path: &std::path::Path) -> anyhow::Result<()> {
    Config::load(path)?;
    println!("{}: ok", path.display());
    Ok(())
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    wasmdns::logging::init(&config.log).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wasmdns")
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve(config, args.overrides()))
}

async fn serve(config: Config, overrides: config::Overrides) -> anyhow::Result<()> {
    let source = config
        .source
        .as_ref()
        .map_or_else(|| config::BUILTIN.to_owned(), |p| p.display().to_string());
    // Before anything slow: an early SIGHUP must not kill the process.
    let hangup = wasmdns::signal::Hangup::install().context("cannot install the SIGHUP handler")?;
    let running = Running::start_with(config, overrides)
        .await
        .context("cannot start the proxy")?;
    tokio::spawn(wasmdns::signal::shutdown_on_signals(
        running.shutdown_token(),
    ));
    tokio::spawn(hangup.reload_each(
        std::sync::Arc::clone(&running.reloader),
        running.shutdown_token(),
    ));
    tracing::info!(
        config = %source,
        dns = ?running.dns_addrs,
        admin = ?running.admin_addr,
        "wasmdns serving"
    );
    running.wait().await;
    tracing::info!("wasmdns stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn run_args(argv: &[&str]) -> RunArgs {
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(args) => args,
            other => panic!("expected run, got {other:?}"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_without_flags_is_the_defaults() {
        let args = run_args(&["wasmdns", "run"]);
        assert_eq!(args.config().unwrap(), Config::defaults());
    }

    /// The shape `../shared/bench/peers.sh` uses for a custom proxy.
    #[test]
    fn flags_replace_lists_and_cache_size() {
        let args = run_args(&[
            "wasmdns",
            "run",
            "--listen",
            "127.0.0.1:5353",
            "--upstream",
            "127.0.0.1:5300",
            "--upstream",
            "::1",
            "--cache-entries",
            "1250000",
            "--admin",
            "127.0.0.1:0",
        ]);
        let c = args.config().unwrap();
        assert_eq!(c.server.listen, ["127.0.0.1:5353".parse().unwrap()]);
        assert_eq!(
            c.upstream.servers,
            [
                "127.0.0.1:5300".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(c.cache.max_entries, 1_250_000);
        assert_eq!(c.admin.listen, Some("127.0.0.1:0".parse().unwrap()));
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(&path, "[cache]\nmax_entries = 5\nmin_ttl = 9\n").unwrap();
        let file = path.to_str().unwrap();
        let c = run_args(&["wasmdns", "run", "-c", file, "--cache-entries", "0"])
            .config()
            .unwrap();
        assert_eq!((c.cache.max_entries, c.cache.min_ttl), (0, 9));
        assert_eq!(c.source.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn bad_flag_values_are_rejected() {
        for argv in [
            &["wasmdns", "run", "--listen", "127.0.0.1"][..],
            &["wasmdns", "run", "--upstream", "dns.example"],
            &["wasmdns", "run", "--cache-entries", "-1"],
            &["wasmdns", "check"],
            &["wasmdns"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn check_reports_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        let bad = dir.path().join("bad.toml");
        std::fs::write(&good, "[server]\nudp_workers = 2\n").unwrap();
        std::fs::write(&bad, "[server]\nlsten = []\n").unwrap();
        assert!(check(&good).is_ok());
        let e = report(&check(&bad).unwrap_err());
        assert!(
            e.starts_with(&format!("{}: server.lsten: unknown field", bad.display())),
            "{e}"
        );
        let missing = dir.path().join("missing.toml");
        let e = report(&check(&missing).unwrap_err());
        assert_eq!(e.matches("os error").count(), 1, "{e}");
        assert!(e.starts_with(&*missing.to_string_lossy()), "{e}");
    }

    #[test]
    fn report_keeps_distinct_causes() {
        let e = anyhow::Error::msg("bind failed").context("cannot start the proxy");
        assert_eq!(report(&e), "cannot start the proxy: bind failed");
    }
}
