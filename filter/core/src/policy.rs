//! Policy
