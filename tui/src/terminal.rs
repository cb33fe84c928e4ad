//! Taking over the terminal and giving it back, also when something panics.
//!
//! Raw mode, the alternate screen and mouse capture are switched on by [`enter`] and off
//! by [`leave`]. A panic in the UI restores the terminal before the panic message prints.
//! A panic in background work (a check) must not: the UI keeps running and reports it, so
//! the hook tells them apart by a flag set only while the UI's future is being polled.

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::cell::Cell;
use std::future::Future;
use std::io::{self, Stdout};
use std::panic::PanicHookInfo;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

thread_local! {
    static IN_UI: Cell<bool> = const { Cell::new(false) };
}

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync + 'static>;

/// The real terminal, in raw mode on the alternate screen with mouse capture.
pub struct Session {
    /// The ratatui terminal.
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    previous_hook: Hook,
}

/// Switches the terminal to full-screen mode and installs the panic hook.
pub fn enter() -> io::Result<Session> {
    let previous: Hook = Arc::from(std::panic::take_hook());
    let chained = Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        if IN_UI.with(Cell::get) {
            restore();
            chained(info);
        }
        // Elsewhere (a check's task) the panic is reported in the UI by the task's owner.
    }));
    let result = (|| {
        enable_raw_mode()?;
        execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        Terminal::new(CrosstermBackend::new(io::stdout()))
    })();
    match result {
        Ok(terminal) => Ok(Session {
            terminal,
            previous_hook: previous,
        }),
        Err(e) => {
            restore();
            let previous = previous;
            std::panic::set_hook(Box::new(move |info| previous(info)));
            Err(e)
        }
    }
}

/// Gives the terminal back and puts the previous panic hook back.
pub fn leave(session: Session) {
    let Session {
        mut terminal,
        previous_hook,
    } = session;
    let _ = terminal.show_cursor();
    restore();
    std::panic::set_hook(Box::new(move |info| previous_hook(info)));
}

/// Mouse capture off, alternate screen left, raw mode off; errors ignored (best effort).
fn restore() {
    let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen);
    let _ = disable_raw_mode();
}

/// Marks the polling of `F` as UI work, for the panic hook.
pub struct UiScope<F>(Pin<Box<F>>);

impl<F: Future> UiScope<F> {
    /// Wraps the UI's future.
    pub fn new(future: F) -> Self {
        Self(Box::pin(future))
    }
}

struct Flag(bool);

impl Drop for Flag {
    fn drop(&mut self) {
        IN_UI.with(|f| f.set(self.0));
    }
}

impl<F: Future> Future for UiScope<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _reset = Flag(IN_UI.with(|f| f.replace(true)));
        self.0.as_mut().poll(cx)
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ui_flag_is_set_only_while_the_ui_is_polled() {
        assert!(!IN_UI.with(Cell::get));
        let inside = UiScope::new(async { IN_UI.with(Cell::get) }).await;
        assert!(inside);
        assert!(!IN_UI.with(Cell::get));
        let background = tokio::spawn(async { IN_UI.with(Cell::get) });
        assert!(!background.await.unwrap());
    }

    #[test]
    fn panic_messages_are_read_from_str_and_string_payloads() {
        assert_eq!(panic_message(&"boom"), "boom");
        assert_eq!(panic_message(&String::from("bang")), "bang");
        assert_eq!(panic_message(&42), "no message");
    }
}
