//! A read-only view of a header map, so the core reads headers the way each host holds them
//! (the wasm plugin's one copied list, a native host's borrowed pairs) without copying them
//! again. Names are lower-case, as Envoy presents them; a name may appear more than once.

/// Header pairs in the order the host gives them.
pub trait Headers {
    /// Every `(name, value)` pair.
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)>;

    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every value of `name`, in order.
    fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + 'n
    where
        'a: 'n,
    {
        self.pairs()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

impl Headers for [(String, String)] {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl Headers for Vec<(String, String)> {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl Headers for [(&str, &str)] {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().copied()
    }
}
