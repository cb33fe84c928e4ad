//! Progress (being written).
