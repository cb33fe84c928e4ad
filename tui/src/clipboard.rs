//! Copying through the terminal: the OSC 52 escape sequence.
//!
//! Works over SSH and in tmux (with `set-clipboard on`), needs no clipboard daemon, and is
//! ignored by terminals that do not support it.

use base64::Engine as _;

/// The escape sequence that asks the terminal to put `text` on the system clipboard.
pub fn osc52(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{encoded}\x07")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_text_in_base64_inside_the_escape() {
        assert_eq!(
            osc52("kubectl get pods"),
            "\x1b]52;c;a3ViZWN0bCBnZXQgcG9kcw==\x07"
        );
        assert_eq!(osc52(""), "\x1b]52;c;\x07");
    }
}
