//! Native adapters (tests, CLI).
