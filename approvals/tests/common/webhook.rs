//! A local webhook receiver: records every body it gets and answers 500 to the first
//! `failures` deliveries, 200 after.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Received {
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    pub raw: Arc<Mutex<Vec<String>>>,
    pub attempts: Arc<AtomicUsize>,
}

/// Starts the receiver on the current runtime; its URL and what it got.
pub async fn receiver(failures: usize) -> (String, Received) {
    let got = Received::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: Bytes| {
            let g = g.clone();
            async move {
                let n = g.attempts.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&body).to_string();
                g.raw.lock().unwrap().push(text.clone());
                if n < failures {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                g.bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(&text).unwrap());
                StatusCode::OK
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}
