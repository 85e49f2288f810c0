use clap::Parser;
use std::path::PathBuf;

/// Native SMS gateway for Termux (see docs/design.md).
#[derive(Parser)]
#[command(version = phone_gateway::VERSION)]
struct Args {
    /// TOML config file; PHONE_GATEWAY_* environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
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
