//! gRPC method matchers: `package.Service/Method` or every method of a service.

/// `package.Service/Method` or `package.Service/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMatch {
    pub(super) service: String,
    /// `None` for every method of the service.
    pub(super) method: Option<String>,
}

impl GrpcMatch {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.strip_prefix('/').unwrap_or(s);
        let (service, method) = s.split_once('/')?;
        let ident = |x: &str| {
            !x.is_empty()
                && x.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        if !ident(service) {
            return None;
        }
        match method {
            "*" => Some(Self {
                service: service.to_string(),
                method: None,
            }),
            m if ident(m) && !m.contains('.') => Some(Self {
                service: service.to_string(),
                method: Some(m.to_string()),
            }),
            _ => None,
        }
    }

    pub(super) fn matches(&self, full: &str) -> bool {
        let Some((service, method)) = full.split_once('/') else {
            return false;
        };
        service == self.service && self.method.as_deref().is_none_or(|m| m == method)
    }
}
