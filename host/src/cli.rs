//! Offline commands: `kiwi plugins …` and `kiwi call …`. Both act on the same
//! database and plugins.toml as the server; `call` sends the request through
//! the real router (same dispatch, limits and capabilities) in-process.

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use crate::clock::Clock;
use crate::config::Config;
use crate::principal::{Principal, ScopeSet, Via};
use crate::state::AppState;

/// What `kiwi plugins` does.
#[derive(Debug, Clone)]
pub enum PluginsAction {
    List,
    Enable(String),
    Disable(String),
    Reload(String),
}

/// Runs `kiwi plugins …`.
pub async fn plugins(config: Config, action: PluginsAction) -> anyhow::Result<()> {
    let state = AppState::build(config, Clock::default()).await?;
    match action {
        PluginsAction::List => {
            println!("NAME           STATE     VERSION  TIER    ROUTES");
            for (name, slot) in state.plugins.slots().iter() {
                let d = crate::plugins::admin::describe(name, slot);
                println!(
                    "{:<14} {:<9} {:<8} {:<7} {}",
                    name,
                    d["state"].as_str().unwrap_or(""),
                    d["version"].as_str().unwrap_or(""),
                    d["tier"].as_str().unwrap_or(""),
                    d["routes"].as_array().map(Vec::len).unwrap_or(0)
                );
            }
            for (name, err) in state.plugins.failures() {
                println!("{name:<14} failed    {err}");
            }
        }
        PluginsAction::Enable(name) => {
            state.plugins.set_enabled(&state, &name, true).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{name} enabled");
        }
        PluginsAction::Disable(name) => {
            state.plugins.set_enabled(&state, &name, false).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{name} disabled");
        }
        PluginsAction::Reload(name) => {
            state.plugins.request_reload(&state, &name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{name}: reload requested (running servers reload it within a second)");
        }
    }
    Ok(())
}

/// One `kiwi call`.
#[derive(Debug, Clone)]
pub struct Call {
    pub plugin: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Vec<u8>,
    pub now: Option<f64>,
    pub tenant: Option<String>,
    pub content_type: Option<String>,
}

/// Runs `kiwi call`, printing the status line and body; returns the status.
pub async fn call(config: Config, c: Call) -> anyhow::Result<u16> {
    let clock = match c.now {
        Some(secs) => Clock::pinned((secs * 1000.0).floor() as i64),
        None => Clock::default(),
    };
    let state = AppState::build(config, clock).await?;
    let router = crate::app::router(state.clone());
    let path = if c.path.starts_with('/') { c.path.clone() } else { format!("/{}", c.path) };
    let mut uri = format!("/v1/{}{}", c.plugin, path);
    if let Some(q) = c.query.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(q.trim_start_matches('?'));
    }
    let mut req = Request::builder().method(c.method.to_ascii_uppercase().as_str()).uri(&uri);
    if let Some(t) = &c.tenant {
        req = req.header("x-kiwi-tenant", t);
    }
    if let Some(ct) = &c.content_type {
        req = req.header("content-type", ct);
    } else if !c.body.is_empty() && c.body.first() == Some(&b'{') {
        req = req.header("content-type", "application/json");
    }
    let mut req = req.body(Body::from(c.body))?;
    // The operator acts as the platform superuser holding an all-scopes token of the tenant.
    let tenant =
        state.tenants.by_slug(c.tenant.as_deref().unwrap_or("default")).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    req.extensions_mut().insert(Principal {
        user_id: "cli".into(),
        is_master: true,
        via: Via::Token { token_id: "cli".into(), tenant_id: tenant.id, scopes: ScopeSet::All },
    });
    req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 0))));
    let res = router.oneshot(req).await?;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
    println!("HTTP/1.1 {} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    println!("{}", String::from_utf8_lossy(&bytes));
    state.plugins.shutdown().await;
    Ok(status.as_u16())
}
