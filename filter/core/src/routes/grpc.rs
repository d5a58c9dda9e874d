//! gRPC method matchers: `package.Service/Method` or every method of a service.

/// `package.Service/Method` or `package.Service/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMatch {
    pub(super) service: String,
    /// `None` for every method of the service.
    pub(super) method: Option<String>,
}

impl GrpcMatch {
    /// Parses `package.Service/Method` or `package.Service/*`, folded to lower case as request
    /// paths are: the path names the method whatever its case or the content type.
    pub fn parse(s: &str) -> Option<Self> {
        let lower = s.to_ascii_lowercase();
        let s = lower.strip_prefix('/').unwrap_or(&lower);
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
