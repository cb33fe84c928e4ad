//! meshwork-tui's integration tests: whole screens on a `TestBackend`, and the event loop.

// Helpers outside `#[test]` functions may unwrap too: a panic is a failed test with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod event_loop;
mod screens;
mod support;
