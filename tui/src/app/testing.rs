//! Helpers for the state tests: the shared fixtures plus key events.

use super::App;
use crate::{Event, Options, Theme};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[path = "../../tests/tui/support.rs"]
mod support;

pub use support::{DIFF, FakeTarget, Fixture, Remembered, fixture, result, switch};

/// An app on the fixture course (100×30, colours on); keep `_dir` alive as long as the app.
pub struct TestApp {
    pub app: App,
    pub _dir: tempfile::TempDir,
}

impl Fixture {
    /// The app for this fixture.
    pub fn app(self, open: Option<&str>) -> TestApp {
        let options = Options {
            course: self.course,
            ctx: self.ctx,
            progress: self.progress,
            open: open.map(str::to_string),
            notice: None,
        };
        TestApp {
            app: App::new(options, 100, 30, Theme::new(true)),
            _dir: self.dir,
        }
    }
}

impl Fixture {
    /// The app for this fixture on `current`, with the fixture's target switch (see
    /// [`switch`]); the list records what was remembered.
    pub fn app_with_switch(
        self,
        open: Option<&str>,
        current: meshwork_checks::TargetSpec,
    ) -> (TestApp, Remembered) {
        let (target_switch, remembered) = switch(current, self.dir.path());
        let mut t = self.app(open);
        t.app = t.app.with_target_switch(target_switch);
        (t, remembered)
    }
}

/// An app opened at `open`.
pub fn app(open: Option<&str>) -> TestApp {
    fixture().app(open)
}

/// A key press.
pub fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// A character key press.
pub fn ch(c: char) -> Event {
    key(KeyCode::Char(c))
}
