//! The running application: `Application::build` connects the store, runs migrations and binds the listener;
//! `run_until_stopped` serves until SIGTERM or Ctrl-C (or the given signal in tests), then drains in-flight
//! requests and closes the database.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Store;
use crate::web::{self, AppState};

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects, migrates and binds; nothing is served yet.
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Application> {
        std::fs::create_dir_all(&settings.data_dir)?;
        let store =
            Store::connect(&settings.database.url, settings.database.max_connections).await?;
        store.migrate().await?;
        // Warm the referential now, so the first completion request does not pay for decoding it.
        let referential = tokio::task::spawn_blocking(crate::referential::Referential::get);
        let listener = TcpListener::bind(settings.server.listen).await?;
        referential.await?;
        let state = AppState {
            store,
            settings: Arc::new(settings),
            clock,
            metrics: Arc::new(Default::default()),
            dashboard_cache: Arc::default(),
        };
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    /// Serves until `stop` is cancelled.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let store = self.state.store.clone();
        let router = web::router(self.state);
        tracing::info!(address = %self.listener.local_addr()?, backend = store.backend_name(), "relais is serving");
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;
        store.close().await;
        tracing::info!("relais stopped");
        Ok(())
    }
}

/// A token cancelled on SIGTERM or Ctrl-C.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        cancel.cancel();
    });
    token
}

/// Installs the log subscriber: human-readable by default, JSON lines when configured.
pub fn init_logging(settings: &crate::config::LogSettings) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Human => builder.try_init(),
    };
}
