use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Native SMS gateway for Termux (see docs/design.md).
#[derive(Parser)]
#[command(version = phone_gateway::VERSION)]
struct Args {
    /// TOML config file; PHONE_GATEWAY_* environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Join an edge's fleet with a one-time enrolment token (from the console or
    /// `otpctl gateways enrol-token`): writes the gateway id, the secret file and the edge URL
    /// into the config (default ./gateway.toml).
    Enrol {
        /// The edge's URL, e.g. https://otp.example.com
        #[arg(long)]
        edge: String,
        #[arg(long)]
        token: String,
        /// This phone's public URL (its tunnel), if it has one already.
        #[arg(long)]
        url: Option<String>,
        /// A SIM's own number, as SLOT=+E164 (or default=+E164); repeat for each SIM.
        #[arg(long = "number", value_parser = phone_gateway::enrol::parse_number)]
        numbers: Vec<(String, String)>,
        /// Where the secret goes (default: gateway.secret beside the config).
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// Enrol again although the config names a secret file that exists.
        #[arg(long)]
        force: bool,
    },
    /// Tell the edge this phone's new public URL (signed with the phone's key).
    Register {
        #[arg(long)]
        url: String,
    },
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(command) = args.command {
        return subcommand(command, args.config);
    }
    let cfg = match phone_gateway::config::load(args.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("phone-gateway: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.check {
        if let Err(e) = phone_gateway::server::tls::acceptor(&cfg.tls) {
            eprintln!("phone-gateway: {e}");
            return std::process::ExitCode::from(2);
        }
        println!("config ok");
        return std::process::ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(phone_gateway::run::run(cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "gateway stopped");
            eprintln!("phone-gateway: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn subcommand(command: Command, config: Option<PathBuf>) -> std::process::ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = match command {
        Command::Enrol {
            edge,
            token,
            url,
            numbers,
            secret_file,
            force,
        } => {
            let args = phone_gateway::enrol::EnrolArgs {
                edge,
                token,
                config: config.unwrap_or_else(|| PathBuf::from("gateway.toml")),
                secret_file,
                url,
                numbers: numbers.into_iter().collect(),
                force,
            };
            rt.block_on(phone_gateway::enrol::enrol(&args)).map(|id| {
                format!(
                    "enrolled as {id}; config written to {}",
                    args.config.display()
                )
            })
        }
        Command::Register { url } => {
            match phone_gateway::config::load(config.as_deref(), |k| std::env::var(k).ok()) {
                Ok(cfg) => {
                    match otp_shared::wire::Keys::from_secret(cfg.secret.as_deref().unwrap_or("")) {
                        Ok(keys) => rt
                            .block_on(phone_gateway::enrol::register(&cfg, &keys, &url))
                            .map(|()| format!("registered {url} for {}", cfg.gateway_id)),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        }
    };
    match outcome {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("phone-gateway: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
