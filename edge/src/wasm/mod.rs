//! workers-rs glue.
