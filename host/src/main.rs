//! `kiwi`: the server and its command line.

use clap::{Parser, Subcommand};
use kiwi_host::{Application, Config};

/// mimalloc instead of glibc malloc: the request path allocates many small, short-lived
/// objects across worker threads, where glibc's arena locks showed up in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "kiwi", version, about = "Kiwi: a multi-tenant developer-API platform")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect and control plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Run one plugin route exactly as the server would (same limits and
    /// capabilities, embedded database) and print the status line and body.
    Call {
        plugin: String,
        method: String,
        /// Path under /v1/<plugin>, e.g. /server-time
        path: String,
        /// Query string (without `?`).
        #[arg(long)]
        query: Option<String>,
        /// File whose bytes are the request body (`-` for stdin).
        #[arg(long)]
        body: Option<std::path::PathBuf>,
        /// Pin the host clock (unix seconds; fractions allowed).
        #[arg(long)]
        now: Option<f64>,
        /// Tenant slug (default: the default tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Content-Type of the body.
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Administrative tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand, Debug)]
enum PluginsCommand {
    /// List plugins with state, version and routes.
    List,
    /// Enable a plugin platform-wide (a running server picks it up within a second).
    Enable { name: String },
    /// Disable a plugin platform-wide.
    Disable { name: String },
    /// Ask every running server to reload a plugin from its path.
    Reload { name: String },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create or promote the platform superuser ("master").
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn cli_plugins(c: PluginsCommand) -> kiwi_host::cli::PluginsAction {
    use kiwi_host::cli::PluginsAction as A;
    match c {
        PluginsCommand::List => A::List,
        PluginsCommand::Enable { name } => A::Enable(name),
        PluginsCommand::Disable { name } => A::Disable(name),
        PluginsCommand::Reload { name } => A::Reload(name),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load()?;
    kiwi_host::telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(config).await?;
            tracing::info!(port = app.port(), "kiwi listening");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = kiwi_host::db::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("migrations applied");
        }
        Command::Plugins { command } => kiwi_host::cli::plugins(config, cli_plugins(command)).await?,
        Command::Call { plugin, method, path, query, body, now, tenant, content_type } => {
            let body = match body {
                None => Vec::new(),
                Some(p) if p.as_os_str() == "-" => {
                    use std::io::Read;
                    let mut buf = Vec::new();
                    std::io::stdin().read_to_end(&mut buf)?;
                    buf
                }
                Some(p) => std::fs::read(&p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?,
            };
            let call = kiwi_host::cli::Call { plugin, method, path, query, body, now, tenant, content_type };
            let code = kiwi_host::cli::call(config, call).await?;
            if code >= 400 {
                std::process::exit(1);
            }
        }
        Command::Admin { command: AdminCommand::Create { email, password } } => {
            let state = kiwi_host::state::AppState::build(config, kiwi_host::clock::Clock::default()).await?;
            state.accounts.ensure_master(&email, &password).await?;
            println!("superuser {email} ready");
        }
    }
    Ok(())
}
