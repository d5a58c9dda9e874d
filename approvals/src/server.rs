//! Wiring: connect the store, make or load the signing keys, open the audit log, start the
//! background tasks (key fetches, key rotation, expiry, webhook deliveries) and serve the API.

use crate::audit_log::{self, AuditLog};
use crate::authn::Authn;
use crate::config::Settings;
use crate::keys::Keys;
use crate::model::AccessRequest;
use crate::notify;
use crate::store::Store;
use crate::targets;
use pci_guard_core::audit::approvals::ApprovalAction;
use std::sync::Arc;
use std::time::Duration;

/// Seconds an old key stays published past the longest grant it may have signed.
pub const KEY_GRACE_SECONDS: u64 = 300;
/// How often each replica looks for due expiries and key rotations.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
const KEYS_EVERY: Duration = Duration::from_secs(5);

pub struct App {
    pub settings: Settings,
    pub store: Store,
    pub authn: Arc<Authn>,
    pub keys: Keys,
    pub audit: AuditLog,
}

impl App {
    /// Connects, creates the tables and keys if missing, opens the audit log.
    pub async fn start(settings: Settings) -> Result<Arc<App>, String> {
        let hooks = settings.webhooks.iter().map(|(_, e)| e.clone()).collect();
        let store = Store::connect(&settings.database_url, settings.max_connections, hooks)
            .await
            .map_err(|e| format!("database: {e}"))?;
        let keys = Keys::new(
            settings.key_lifetime,
            settings.key_publish_ahead,
            settings.longest_grant() + KEY_GRACE_SECONDS,
        );
        keys.maintain(&store, crate::time::now())
            .await
            .map_err(|e| format!("signing keys: {}", e.message()))?;
        let replica = crate::ids::random("approvals").map_err(|e| format!("randomness: {e}"))?;
        let audit = AuditLog::open(
            &settings.audit_log,
            settings.audit_key.clone(),
            &replica,
            &settings.policy,
        )
        .map_err(|e| format!("--audit-log {}: {e}", settings.audit_log))?;
        let authn = Arc::new(Authn::new(settings.policy.clone()));
        Ok(Arc::new(App {
            settings,
            store,
            authn,
            keys,
            audit,
        }))
    }

    /// Starts the background tasks on the current runtime.
    pub fn spawn_tasks(self: &Arc<Self>) {
        tokio::spawn(
            self.authn
                .clone()
                .fetch_keys(self.settings.jwks_urls.clone()),
        );
        let hooks: Vec<String> = self
            .settings
            .webhooks
            .iter()
            .map(|(u, _)| u.clone())
            .collect();
        if !hooks.is_empty() {
            tokio::spawn(notify::deliver(
                self.store.clone(),
                hooks,
                self.settings.approvals.issuer.clone(),
                self.settings.webhook_retry_ms,
            ));
        }
        let app = self.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(SWEEP_EVERY);
            loop {
                t.tick().await;
                app.expire_due().await;
            }
        });
        let app = self.clone();
        // Often enough that a key is published well within its publish-ahead time.
        let every = KEYS_EVERY
            .min(Duration::from_millis(self.settings.key_publish_ahead * 250))
            .max(Duration::from_millis(200));
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            loop {
                t.tick().await;
                if let Err(e) = app.keys.maintain(&app.store, crate::time::now()).await {
                    eprintln!("pci-guard-approvals: key rotation: {}", e.message());
                }
            }
        });
    }

    /// Records the expiry of every pending request past its time (audit and notices).
    pub async fn expire_due(&self) {
        let now = crate::time::now();
        let policy = &self.settings.policy;
        let event = |r: &AccessRequest| {
            let min = targets::resolve(policy, &r.target).map_or(0, |q| q.min_approvals);
            let mut e = audit_log::event(
                ApprovalAction::Expired,
                now,
                None,
                audit_log::request_ref(r, &[], min),
                None,
                None,
            );
            self.audit.stamp(&mut e);
            e
        };
        let notices = |r: &AccessRequest| vec![notify::notice("expired", &event(r))];
        if let Ok(expired) = self.store.expire_due(now, &notices).await {
            for r in &expired {
                self.audit.write(event(r));
            }
        }
    }
}

/// Starts the service with `settings` and serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> Result<(), String> {
    let listen = settings.listen;
    let app = App::start(settings).await?;
    app.spawn_tasks();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("--listen {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "pci-guard-approvals: listening on http://{addr} (issuer {}, database {})",
        app.settings.approvals.issuer,
        match app.store.backend {
            crate::store::Backend::Sqlite => "SQLite",
            crate::store::Backend::Postgres => "PostgreSQL",
        }
    );
    let store = app.store.clone();
    axum::serve(listener, crate::api::router(app))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
