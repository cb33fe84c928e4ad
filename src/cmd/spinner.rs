//! A spinner line on stderr while a command waits (starting the mesh, installing Istio), shown
//! only when stderr is a terminal.

use std::io::{IsTerminal, Write};

/// One spinner line, redrawn in place and erased by [`Spinner::clear`].
pub(crate) struct Spinner {
    enabled: bool,
    frame: usize,
    shown: bool,
}

impl Spinner {
    /// A spinner that shows unless `quiet` or stderr is not a terminal.
    pub(crate) fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            frame: 0,
            shown: false,
        }
    }

    /// Draws the next frame followed by `text`.
    pub(crate) fn tick(&mut self, text: &str) {
        if !self.enabled {
            return;
        }
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{} {text}", FRAMES[self.frame % FRAMES.len()]);
        let _ = err.flush();
        self.frame += 1;
        self.shown = true;
    }

    /// Erases the line, if anything was drawn.
    pub(crate) fn clear(&mut self) {
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}
