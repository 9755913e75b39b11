//! The `otpgate` command line. `main.rs` only calls [`main`].

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use rand::RngCore;

use crate::config::{Config, LogConfig, LogFormat};

#[derive(Parser)]
#[command(
    name = "otpgate",
    version,
    about = "TLS reverse proxy that asks for an SMS one-time code before protected routes"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a demo storefront and the gateway in front of it on https://127.0.0.1:8443 (no configuration needed; codes are printed here)
    Demo {
        /// Address for the gateway
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: std::net::SocketAddr,
    },
    /// Run the gateway from a configuration file
    Run {
        /// Configuration file
        #[arg(short, long, default_value = "config/otpgate.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file and print every problem with its key and line; exit 0 only when valid (warnings too with --strict)
    CheckConfig {
        /// Configuration file
        #[arg(short, long, default_value = "config/otpgate.toml")]
        config: PathBuf,
        /// Treat warnings (settings weaker than NIST SP 800-63B or PSD2, an exposed admin listener, ...) as errors
        #[arg(long)]
        strict: bool,
    },
    /// Print, for each SMS language, the DLT content template to register for India ({#var#} for each variable), its size and its variables' maximum lengths
    DltTemplate {
        /// Configuration file
        #[arg(short, long, default_value = "config/otpgate.toml")]
        config: PathBuf,
    },
    /// Re-run the sends and verifies of an audit trail through a candidate configuration's limits, region policy and pumping detector, in simulated time, and print what it would have blocked (per rule and prefix)
    AuditReplay {
        /// The candidate configuration
        #[arg(short, long, default_value = "config/otpgate.toml")]
        config: PathBuf,
        /// The audit trail (JSON lines, `[log] audit_file`)
        audit: PathBuf,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print a fresh random session secret (32 random bytes, hex) as the last word
    GenSecret,
    /// Write a self-signed certificate and key to certs/cert.pem and certs/key.pem
    GenCert {
        /// Host name or IP address the certificate is for (repeatable)
        #[arg(long = "host", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        hosts: Vec<String>,
        /// Directory to write cert.pem and key.pem into
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
    },
    /// Print a shell completion script (e.g. `otpgate completions bash > /etc/bash_completion.d/otpgate`)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Completions { shell } => {
            // Into a buffer: clap_complete panics when its writer fails, and
            // a reader that stops early (`| head`, `grep -q`) is no error.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "otpgate", &mut script);
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Command::AuditReplay {
            config,
            audit,
            json,
        } => {
            let cfg = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprint!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let trail = match std::fs::read_to_string(&audit) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {}: {e}", audit.display());
                    return ExitCode::FAILURE;
                }
            };
            let report = runtime().block_on(crate::audit_replay::replay(&cfg, &trail));
            if json {
                println!("{}", report.json());
            } else {
                print!("{}", report.text());
            }
            ExitCode::SUCCESS
        }
        Command::GenSecret => {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            eprintln!("A new session secret (put it in [session] secret, or OTPGATE_SECRET):");
            println!("{}", hex::encode(b));
            ExitCode::SUCCESS
        }
        Command::GenCert { hosts, dir } => match crate::tls::write_self_signed(&dir, &hosts) {
            Ok(()) => {
                eprintln!(
                    "wrote {0}/cert.pem and {0}/key.pem for {1}",
                    dir.display(),
                    hosts.join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig { config, strict } => match Config::load(&config) {
            Ok(cfg) => {
                let label = if strict { "error" } else { "warning" };
                for w in &cfg.warnings {
                    eprintln!("{label}: {w}");
                }
                if strict && !cfg.warnings.is_empty() {
                    let n = cfg.warnings.len();
                    eprintln!(
                        "{}: {n} warning{} (refused under --strict)",
                        config.display(),
                        if n == 1 { "" } else { "s" }
                    );
                    return ExitCode::FAILURE;
                }
                println!(
                    "{}: OK ({} routes, provider {})",
                    config.display(),
                    cfg.routes.len(),
                    cfg.sms
                        .chain
                        .iter()
                        .map(|p| p.name())
                        .collect::<Vec<_>>()
                        .join(" then ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprint!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::DltTemplate { config } => match Config::load_before_dlt(&config) {
            Ok(cfg) => {
                let texts = cfg.sms_texts();
                let list: Vec<crate::sms::dlt::Registration> = texts
                    .messages
                    .iter()
                    .map(|t| crate::sms::dlt::Registration {
                        key: &t.key,
                        languages: &t.languages,
                        template: t.template,
                        with_amount: t.with_amount,
                    })
                    .collect();
                print!("{}", crate::sms::dlt::registration(&list, &texts.values));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprint!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Run { config } => {
            let cfg = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprint!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            init_logs(&cfg.log);
            // The trail's first line: a trail that cannot be written is
            // known (logged, `/readyz`, `audit_required`) before any sign-in.
            crate::audit::started(env!("CARGO_PKG_VERSION"));
            for w in &cfg.warnings {
                tracing::warn!("{w}");
            }
            let rt = runtime();
            let code = rt.block_on(async move {
                let mut hups = catch_sighup();
                match crate::server::start(cfg, None).await {
                    Ok(running) => {
                        let live = running.live.clone();
                        // A reload is a blocking file read and build; an
                        // invalid file is logged and changes nothing.
                        tokio::spawn(async move {
                            while hups.recv().await.is_some() {
                                tracing::info!(config = %config.display(), "SIGHUP received; reloading the configuration");
                                let (live, path) = (live.clone(), config.clone());
                                let _ = tokio::task::spawn_blocking(move || live.reload_file(&path)).await;
                            }
                        });
                        crate::server::shutdown_signal().await;
                        running.shutdown().await;
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        tracing::error!("{e}");
                        ExitCode::FAILURE
                    }
                }
            });
            // The grace period is over: a blocking task still running (a
            // DNS lookup, a file write) must not delay the exit, as a
            // plain drop of the runtime would.
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
            code
        }
        Command::Demo { listen } => {
            init_logs(&LogConfig {
                format: LogFormat::Text,
                level: "info".into(),
                audit_file: None,
                audit_required: false,
            });
            runtime().block_on(demo(listen))
        }
    }
}

async fn demo(listen: std::net::SocketAddr) -> ExitCode {
    // The demo has no file to reload: a SIGHUP is only logged.
    drop(catch_sighup());
    match crate::demo::ensure_certs(std::path::Path::new("certs")) {
        Ok(true) => tracing::info!("created a self-signed certificate in certs/"),
        Ok(false) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let shop = match crate::demo::storefront().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot start the demo storefront: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let cfg = crate::demo::config(listen, shop, &hex::encode(secret));
    let running = match crate::server::start(cfg, None).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let admin = running
        .admin_addr
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!(
        "\n  otpgate demo\n  ------------\n  shop (through the gateway):  https://{0}/\n  protected page:              https://{0}/checkout\n  metrics:                     http://{admin}/metrics\n  storefront behind it:        http://{shop}/\n\n  The certificate is self-signed: accept the browser's warning.\n  Enter any valid mobile number (e.g. +91 98123 45678); the SMS is printed below.\n  Ctrl-C stops.\n",
        running.addr
    );
    crate::server::shutdown_signal().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}

/// SIGHUP's default action ends the process, and operators and logrotate
/// send it expecting the gateway to stay up. Take it over in every
/// configuration (with `[log] audit_file`, audit.rs also reopens the file
/// on it); each one received is passed on, for `run` to reload. Call
/// inside the runtime, before the listeners start.
fn catch_sighup() -> tokio::sync::mpsc::UnboundedReceiver<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    if tx.send(()).is_err() {
                        tracing::info!("SIGHUP received; still serving");
                    }
                }
            });
        }
        Err(e) => tracing::error!(error = %e, "cannot take over SIGHUP; it would stop the process"),
    }
    rx
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Logs go to standard error (standard output is the console provider's).
/// Audit events go, as JSON lines and whatever the log level, to
/// `log.audit_file` (reopened on SIGHUP, for logrotate) or to standard error.
fn init_logs(cfg: &LogConfig) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // rustls warns once per connection about clients that send an IP
        // address as SNI (curl, wrk): noise for an operator, not news.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("{},rustls=error", cfg.level))
        });
    let filter = filter.add_directive(
        format!("{}=off", crate::audit::TARGET)
            .parse()
            .expect("a valid directive"),
    );
    // Colour codes only for a person at a terminal: in a file or journald
    // they are line noise that breaks grep.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match cfg.format {
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
        LogFormat::Text => fmt.with_filter(filter).boxed(),
    };
    let sink = match &cfg.audit_file {
        None => crate::audit::AuditSink::stderr(),
        Some(path) => {
            let opened = crate::audit::AuditSink::file(path).and_then(|sink| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let task = rt.block_on(async { crate::audit::reopen_on_sighup(sink.clone()) })?;
                std::thread::Builder::new()
                    .name("audit-reopen".into())
                    .spawn(move || rt.block_on(task))?;
                Ok(sink)
            });
            match opened {
                Ok(sink) => sink,
                Err(e) => {
                    eprintln!("error: cannot open log.audit_file {}: {e}", path.display());
                    std::process::exit(1);
                }
            }
        }
    };
    tracing_subscriber::registry()
        .with(fmt)
        .with(crate::audit::AuditLayer::new(sink))
        .init();
}
