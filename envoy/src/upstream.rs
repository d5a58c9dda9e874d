//! An HTTP/1.1 upstream on loopback that records what reaches it and answers with what the
//! test's handler returns, framed as the test asks (sized, chunked, or cut off by a reset).

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::client::{read_body, read_headers};
use crate::files::root;

/// A request the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the upstream answers a request with.
pub type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How to send the body: one write with `content-length`, or chunked as given.
    pub framing: Framing,
}

#[derive(Clone, Default)]
pub enum Framing {
    #[default]
    ContentLength,
    /// `transfer-encoding: chunked`, one HTTP chunk per piece, flushed with a short pause
    /// between pieces so Envoy sees them as separate body callbacks.
    Chunked(Vec<usize>),
    /// Sends this many bytes of the body, then resets the connection.
    ResetAfter(usize),
}

impl Reply {
    pub fn json(body: &str) -> Reply {
        Reply::with("application/json", body.as_bytes().to_vec())
    }

    pub fn with(content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body,
            framing: Framing::ContentLength,
        }
    }
}

/// An HTTP/1.1 upstream on loopback that records what reaches it.
pub struct Upstream {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    /// An upstream answering `{"ok":true}` to everything.
    pub fn ok() -> Upstream {
        Self::start(Arc::new(|_| Reply::json("{\"ok\":true}")))
    }

    /// Serves files from `testdata/bodies/<name>` at `/fixtures/<name>`, and `{"ok":true}` elsewhere.
    pub fn fixtures() -> Upstream {
        Self::start(Arc::new(|r: &Received| {
            if let Some(name) = r.path.strip_prefix("/fixtures/") {
                let name = name.split('?').next().unwrap_or(name);
                let p = root().join("testdata/bodies").join(name);
                if !name.contains("..") {
                    if let Ok(body) = std::fs::read(&p) {
                        let ct = match p.extension().and_then(|e| e.to_str()) {
                            Some("json") => "application/json",
                            Some("xml") => "application/xml",
                            Some("form") => "application/x-www-form-urlencoded",
                            _ => "text/plain",
                        };
                        return Reply::with(ct, body);
                    }
                }
                return Reply {
                    status: 404,
                    ..Reply::with("text/plain", b"no such fixture".to_vec())
                };
            }
            Reply::json("{\"ok\":true}")
        }))
    }

    pub fn start(handler: Arc<Handler>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (rec, st) = (received.clone(), stop.clone());
        thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (rec, handler) = (rec.clone(), handler.clone());
                        thread::spawn(move || serve_connection(conn, rec, handler));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Upstream {
            port,
            received,
            stop,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve_connection(conn: TcpStream, rec: Arc<Mutex<Vec<Received>>>, handler: Arc<Handler>) {
    conn.set_nonblocking(false).ok();
    // Head and body go out in separate writes: without this, Nagle holds the body back until
    // Envoy's delayed ACK (~40 ms per response), which hides everything else under load.
    conn.set_nodelay(true).ok();
    conn.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut w = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let Ok(headers) = read_headers(&mut r) else {
            return;
        };
        let Ok(_body) = read_body_request(&mut r, &headers) else {
            return;
        };
        let req = Received {
            method: method.to_string(),
            path: path.to_string(),
            headers,
        };
        rec.lock().unwrap().push(req.clone());
        let reply = handler(&req);
        if write_reply(&mut w, &reply).is_err() {
            let _ = w.shutdown(Shutdown::Both);
            return;
        }
        if matches!(reply.framing, Framing::ResetAfter(_)) {
            return;
        }
    }
}

fn write_reply(w: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
    match &reply.framing {
        Framing::Chunked(_) => head.push_str("transfer-encoding: chunked\r\n"),
        _ => head.push_str(&format!("content-length: {}\r\n", reply.body.len())),
    }
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    match &reply.framing {
        Framing::ContentLength => w.write_all(&reply.body),
        Framing::ResetAfter(n) => {
            w.write_all(&reply.body[..(*n).min(reply.body.len())])?;
            w.flush()?;
            thread::sleep(Duration::from_millis(100));
            // SO_LINGER 0 would send RST; closing both halves mid-body is what Envoy sees as
            // an upstream reset before the promised length.
            w.shutdown(Shutdown::Both)
        }
        Framing::Chunked(sizes) => {
            let mut rest = &reply.body[..];
            let mut sizes = sizes.iter().copied().cycle();
            while !rest.is_empty() {
                let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
                let (piece, tail) = rest.split_at(n);
                w.write_all(format!("{n:x}\r\n").as_bytes())?;
                w.write_all(piece)?;
                w.write_all(b"\r\n")?;
                w.flush()?;
                thread::sleep(Duration::from_millis(2));
                rest = tail;
            }
            w.write_all(b"0\r\n\r\n")
        }
    }
}

fn read_body_request(
    r: &mut impl BufRead,
    headers: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let has_body = headers.iter().any(|(n, v)| {
        (n == "content-length" && v != "0")
            || (n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    });
    if has_body {
        read_body(r, headers)
    } else {
        Ok(Vec::new())
    }
}
