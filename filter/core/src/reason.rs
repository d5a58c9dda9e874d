//! Reasons
