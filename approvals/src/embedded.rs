//! The service in-process, on a runtime and thread of its own, for programs that embed it:
//! the end-to-end tests start it beside Envoy, the service's own tests stop it and start it
//! again on the same database. It serves as [`crate::serve`] does, minus the signals: it stops
//! when told or dropped, closing its database connections.

use crate::config::Settings;
use crate::server::App;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// One running instance.
pub struct Running {
    /// `http://` and the address it listens on (`settings.listen`, port 0: a free one).
    pub url: String,
    pub port: u16,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Starts the service with `settings`; returns once it listens, or with why it cannot.
    pub fn start(settings: Settings) -> Result<Running, String> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<std::net::SocketAddr, String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("runtime: {e}")));
                    return;
                }
            };
            rt.block_on(async move {
                let listen = settings.listen;
                let app = match App::start(settings).await {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                app.spawn_tasks();
                let listener = match tokio::net::TcpListener::bind(listen).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("--listen {listen}: {e}")));
                        return;
                    }
                };
                let addr = listener.local_addr().map_err(|e| e.to_string());
                let _ = ready_tx.send(addr);
                let server = axum::serve(listener, crate::api::router(app.clone()));
                tokio::spawn(async move {
                    if let Err(e) = server.await {
                        eprintln!("pci-guard-approvals: {e}");
                    }
                });
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                app.store.close().await;
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        });
        let addr = ready_rx
            .recv()
            .map_err(|_| "the service's thread ended before it listened".to_string())
            .and_then(|r| r);
        let addr = match addr {
            Ok(a) => a,
            Err(e) => {
                let _ = thread.join();
                return Err(e);
            }
        };
        Ok(Running {
            url: format!("http://{addr}"),
            port: addr.port(),
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Stops the server and its tasks, closes the database connections, joins the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.halt();
    }
}
