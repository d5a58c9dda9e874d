//! Audit lines in the formats SIEMs ingest: OCSF and Elastic Common Schema.
