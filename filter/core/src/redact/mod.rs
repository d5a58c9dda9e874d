//! Streaming redaction of card data (to be written: redaction issue).
