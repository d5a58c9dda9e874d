//! Harness for end-to-end tests through a real Envoy.
