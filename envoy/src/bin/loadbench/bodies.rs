//! What the upstream answers: JSON bodies of each size with card numbers in them, each with the
//! masked form it must arrive in, and the large clean bodies of the streaming runs.

use std::fmt::Write as _;
use std::sync::Arc;

use pci_guard_e2e::{Received, Reply, Upstream};

/// Test card numbers (Luhn-valid, known brands) and their masked form.
const PANS: [(&str, &str); 6] = [
    ("4111111111111111", "************1111"),
    ("5555 5555 5555 4444", "**** **** **** 4444"),
    ("378282246310005", "***********0005"),
    ("6011111111111117", "************1117"),
    ("4012-8888-8888-1881", "****-****-****-1881"),
    ("5105105105105100", "************5100"),
];

/// A body as the upstream sends it and as it must arrive masked, with `pans` card numbers.
pub struct Body {
    pub raw: Vec<u8>,
    pub masked: Vec<u8>,
    pub pans: usize,
}

fn card(i: usize, pan: &str) -> String {
    format!(
        "{{\"id\":\"card_{i:06}\",\"number\":\"{pan}\",\"exp\":\"12/29\",\"holder\":\"A. Cardholder\",\"status\":\"active\",\"created\":{}}}",
        1_748_503_543 + i
    )
}

fn order(i: usize) -> String {
    format!(
        "{{\"id\":\"ord_{i:06}\",\"amount\":\"{}.99\",\"currency\":\"USD\",\"status\":\"captured\"}}",
        10 + i % 90
    )
}

/// `{"customer":…,"cards":[two cards],"orders":[…]}` of about `len` bytes.
pub fn small_body(len: usize) -> Body {
    let build = |masked: bool| {
        let p = |k: usize| if masked { PANS[k].1 } else { PANS[k].0 };
        let mut s = format!(
            "{{\"customer\":{{\"id\":\"cus_8812\",\"name\":\"Jane Doe\",\"email\":\"jane@example.com\"}},\"cards\":[{},{}],\"orders\":[",
            card(0, p(0)),
            card(1, p(1))
        );
        let mut i = 0;
        while s.len() + 80 < len {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&order(i));
            i += 1;
        }
        s.push_str("]}");
        s.into_bytes()
    };
    Body {
        raw: build(false),
        masked: build(true),
        pans: 2,
    }
}

/// `{"cards":[…]}` of about `len` bytes, a card number in every ~130-byte record.
pub fn cards_body(len: usize) -> Body {
    let build = |masked: bool| {
        let mut s = String::with_capacity(len + 256);
        s.push_str("{\"cards\":[");
        let mut i = 0;
        while s.len() + 140 < len {
            if i > 0 {
                s.push_str(",\n");
            }
            let (raw, m) = PANS[i % PANS.len()];
            s.push_str(&card(i, if masked { m } else { raw }));
            i += 1;
        }
        s.push_str("]}");
        (s.into_bytes(), i)
    };
    let (raw, pans) = build(false);
    Body {
        raw,
        masked: build(true).0,
        pans,
    }
}

/// Clean JSON (no card numbers) of `len` bytes: `digits` = a digit run every ~30 bytes (ids,
/// ms timestamps, amounts), else text-heavy (a short number per ~200 bytes).
pub fn clean_body(len: usize, digits: bool) -> Vec<u8> {
    let mut block = String::new();
    let mut i = 0usize;
    while block.len() < 1 << 16 {
        if digits {
            let _ = writeln!(
                block,
                "{{\"id\":\"ord_{i:08}\",\"created\":{},\"amount\":{},\"currency\":\"USD\",\"items\":[{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":\"19.99\"}}],\"status\":\"captured\"}},",
                1_748_503_543_012u64 + i as u64,
                1000 + i % 9000,
                i % 10000,
                i % 7
            );
        } else {
            let _ = writeln!(
                block,
                "{{\"customer\":\"Jane Doe\",\"email\":\"jane.doe@example.com\",\"address\":{{\"street\":\"Main Street\",\"city\":\"Springfield\",\"country\":\"US\"}},\"status\":\"captured\",\"note\":\"Thank you for your order, it ships today\",\"qty\":{}}},",
                i % 10
            );
        }
        i += 1;
    }
    let mut out = Vec::with_capacity(len);
    out.push(b'[');
    while out.len() + block.len() + 2 < len {
        out.extend_from_slice(block.as_bytes());
    }
    while out.len() + 3 < len {
        out.push(b' ');
    }
    out.extend_from_slice(b"{}]");
    out
}

/// The bodies of the HTTP workloads: about 1 KiB, 64 KiB and 4 MiB.
pub struct Bodies {
    pub small: Body,
    pub medium: Body,
    pub large: Body,
}

/// A JSON-RPC `tools/call` of about `len` bytes: MCP's shape, the tool's arguments padded.
pub fn rpc_call(len: usize) -> Vec<u8> {
    let head = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_card","arguments":{"id":"c_1","note":""#;
    let tail = r#""}}}"#;
    let pad = len.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "x".repeat(pad)).into_bytes()
}

/// The upstream of the HTTP runs: each body at its path, an empty revocation list where the
/// grant workload's policy polls the approvals service, `{"ok":true}` elsewhere.
pub fn upstream(bodies: &Arc<Bodies>) -> Upstream {
    let b = bodies.clone();
    Upstream::start(Arc::new(move |r: &Received| {
        let body = match r.path.as_str() {
            "/v1/cards/small" | "/healthz" | "/mcp" => &b.small,
            "/v1/cards/medium" => &b.medium,
            "/v1/cards/large" => &b.large,
            "/v1/revocations" => return Reply::json(r#"{"version":1,"revoked":[]}"#),
            _ => return Reply::json("{\"ok\":true}"),
        };
        Reply::with("application/json", body.raw.clone())
    }))
}
