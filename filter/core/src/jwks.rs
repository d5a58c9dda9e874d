//! (to be written: identity issue)
