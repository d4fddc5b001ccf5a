//! The running application: `Application::build` connects the store, runs migrations and binds the listener;
//! `run_until_stopped` serves until SIGTERM or Ctrl-C (or the given signal in tests), then drains in-flight
//! requests, lets the delivery workers finish the copy in hand, and closes the database. The background
//! jobs are the [`crate::scheduler`]'s.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Settings;
use crate::mail::worker::Deliverer;
use crate::store::Store;
use crate::web::{self, AppState};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    deliverer: Deliverer,
    /// The LMTP and SMTP listeners of received mail, when configured.
    lmtp: Option<TcpListener>,
    smtp: Option<TcpListener>,
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
        let deliverer = Deliverer::new(store.clone(), clock.clone(), &settings).await?;
        deliverer.release_leases_of_previous_run().await?;
        let lmtp = match settings.inbound.lmtp_listen {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        };
        let smtp = match settings.inbound.smtp_listen {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        };
        let unsubscribe = deliverer.unsubscribe.clone();
        let settings = Arc::new(settings);
        let inbound = crate::inbound::Inbound::new(store.clone(), settings.clone(), clock.clone());
        let federation =
            crate::federation::Federation::new(store.clone(), settings.clone(), clock.clone())
                .await?;
        let state = AppState {
            store,
            settings,
            clock,
            metrics: Arc::new(Default::default()),
            dashboard_cache: Arc::default(),
            owners_cache: Arc::default(),
            sessions: Arc::default(),
            unsubscribe,
            subscribe_form_key: Arc::default(),
            inbound,
            form_budget: Arc::default(),
            federation,
        };
        Ok(Application {
            listener,
            state,
            deliverer,
            lmtp,
            smtp,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Where the LMTP listener listens, if it does.
    pub fn lmtp_addr(&self) -> Option<SocketAddr> {
        self.lmtp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Where the SMTP listener listens, if it does.
    pub fn smtp_addr(&self) -> Option<SocketAddr> {
        self.smtp.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    /// Serves until `stop` is cancelled.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let store = self.state.store.clone();
        let delivery = tokio::spawn(self.deliverer.run_until_stopped(stop.clone()));
        let jobs = crate::scheduler::Context::new(
            store.clone(),
            self.state.settings.clone(),
            self.state.clock.clone(),
            self.state.federation.clone(),
        )?;
        let scheduler = tokio::spawn(crate::scheduler::run_until_stopped(jobs, stop.clone()));
        let inbound = self.state.inbound.clone();
        let mut receiving = Vec::new();
        for (listener, protocol) in [
            (self.lmtp, crate::inbound::session::Protocol::Lmtp),
            (self.smtp, crate::inbound::session::Protocol::Smtp),
        ] {
            if let Some(listener) = listener {
                tracing::info!(address = %listener.local_addr()?, ?protocol, "receiving mail");
                receiving.push(tokio::spawn(inbound.clone().serve(
                    listener,
                    protocol,
                    stop.clone(),
                )));
            }
        }
        receiving.push(tokio::spawn(inbound.route_until_stopped(stop.clone())));
        let router = web::router(self.state);
        tracing::info!(address = %self.listener.local_addr()?, backend = store.backend_name(), "relais is serving");
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;
        let _ = delivery.await;
        let _ = scheduler.await;
        for task in receiving {
            let _ = task.await;
        }
        store.close().await;
        tracing::info!("relais stopped");
        Ok(())
    }
}

/// A token cancelled on SIGTERM or Ctrl-C. The handlers are registered before this returns, so a signal
/// that arrives while the application is still starting is not lost (nor fatal).
pub fn shutdown_on_signal() -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let cancel = token.clone();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        cancel.cancel();
    });
    Ok(token)
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
