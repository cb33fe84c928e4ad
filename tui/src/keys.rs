//! Keys to intents, in one function: [`map`].

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What the learner asks for, independent of the key that asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Leave meshwork.
    Quit,
    /// Close the window on top, or go back a screen.
    Back,
    /// Show or hide the key help.
    Help,
    /// Up one (row, lab, step, check).
    Up,
    /// Down one.
    Down,
    /// Up a page.
    PageUp,
    /// Down a page.
    PageDown,
    /// To the top.
    Top,
    /// To the bottom.
    Bottom,
    /// Open the selection.
    Open,
    /// Focus the next pane.
    FocusNext,
    /// Focus the previous pane.
    FocusPrev,
    /// The next step.
    NextStep,
    /// The previous step.
    PrevStep,
    /// Select the next command.
    NextCommand,
    /// Select the previous command.
    PrevCommand,
    /// Copy the selected command (or the solution's commands).
    Copy,
    /// Run the step's checks.
    RunChecks,
    /// Reveal the next hint.
    Hint,
    /// Show the diff of a failed check.
    Diff,
    /// Show the solution.
    Solution,
    /// Open the target picker.
    Target,
    /// Say yes to the question on screen.
    Confirm,
    /// Explain the recent requests hop by hop.
    Explain,
    /// Read again (the explain view).
    Refresh,
    /// Apply the step's solution (after a confirmation).
    Apply,
    /// Reset the step (after a confirmation).
    Reset,
}

/// Where a key was pressed: the same key means different things in different places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyContext {
    /// The lab list.
    Home,
    /// A lab's step.
    Lab,
    /// A scrollable window on top (help, diff, solution).
    Overlay,
    /// A notice that any key dismisses.
    Notice,
    /// The target picker: a list to choose from.
    Picker,
    /// A yes/no question.
    Confirm,
    /// The explain view: a list of requests to choose from, and the chosen one's hops.
    Explain,
    /// The completion window: enter opens the next lab.
    Complete,
}

/// Maps a key press to a command. Releases and unknown keys map to nothing.
pub fn map(context: KeyContext, key: KeyEvent) -> Option<Command> {
    use Command as C;
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
        return Some(C::Quit);
    }
    if context == KeyContext::Notice {
        return Some(C::Back);
    }
    // Keys that scroll or move the same way everywhere.
    let common = match key.code {
        KeyCode::Up | KeyCode::Char('k') => Some(C::Up),
        KeyCode::Down | KeyCode::Char('j') => Some(C::Down),
        KeyCode::PageUp => Some(C::PageUp),
        KeyCode::PageDown => Some(C::PageDown),
        KeyCode::Char('b') if ctrl => Some(C::PageUp),
        KeyCode::Char('f') if ctrl => Some(C::PageDown),
        KeyCode::Char('u') if ctrl => Some(C::PageUp),
        KeyCode::Char('d') if ctrl => Some(C::PageDown),
        KeyCode::Home | KeyCode::Char('g') => Some(C::Top),
        KeyCode::End | KeyCode::Char('G') => Some(C::Bottom),
        KeyCode::Char('?') => Some(C::Help),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match context {
        KeyContext::Notice => None,
        KeyContext::Picker => match key.code {
            KeyCode::Enter => Some(C::Open),
            KeyCode::Esc | KeyCode::Char('q' | 't') => Some(C::Back),
            _ => None,
        },
        KeyContext::Confirm => match key.code {
            KeyCode::Enter | KeyCode::Char('y' | 'Y') => Some(C::Confirm),
            KeyCode::Esc | KeyCode::Char('n' | 'N' | 'q') => Some(C::Back),
            _ => None,
        },
        KeyContext::Explain => match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'x') => Some(C::Back),
            KeyCode::Enter => Some(C::Open),
            KeyCode::Char('r') => Some(C::Refresh),
            KeyCode::Char(' ') => Some(C::PageDown),
            _ => None,
        },
        KeyContext::Complete => match key.code {
            KeyCode::Enter => Some(C::Open),
            KeyCode::Esc | KeyCode::Char('q') => Some(C::Back),
            KeyCode::Char(' ') => Some(C::PageDown),
            _ => None,
        },
        KeyContext::Overlay => match key.code {
            KeyCode::Esc | KeyCode::Char('q') => Some(C::Back),
            KeyCode::Char(' ') => Some(C::PageDown),
            KeyCode::Char('y') => Some(C::Copy),
            _ => None,
        },
        KeyContext::Home => match key.code {
            KeyCode::Char('q') => Some(C::Quit),
            KeyCode::Char('t') => Some(C::Target),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => Some(C::Open),
            _ => None,
        },
        KeyContext::Lab => match key.code {
            KeyCode::Esc | KeyCode::Char('q') => Some(C::Back),
            KeyCode::Tab | KeyCode::Right => Some(C::FocusNext),
            KeyCode::BackTab | KeyCode::Left => Some(C::FocusPrev),
            KeyCode::Enter => Some(C::Open),
            KeyCode::Char('n') => Some(C::NextStep),
            KeyCode::Char('p') => Some(C::PrevStep),
            KeyCode::Char(']') => Some(C::NextCommand),
            KeyCode::Char('[') => Some(C::PrevCommand),
            KeyCode::Char('y') => Some(C::Copy),
            KeyCode::Char('c') => Some(C::RunChecks),
            KeyCode::Char('h') => Some(C::Hint),
            KeyCode::Char('d') => Some(C::Diff),
            KeyCode::Char('s') => Some(C::Solution),
            KeyCode::Char('x') => Some(C::Explain),
            KeyCode::Char('a') => Some(C::Apply),
            KeyCode::Char('r') => Some(C::Reset),
            KeyCode::Char('t') => Some(C::Target),
            KeyCode::Char(' ') => Some(C::PageDown),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn h_is_a_hint_in_a_lab_and_ctrl_c_always_quits() {
        assert_eq!(
            map(KeyContext::Lab, key(KeyCode::Char('h'))),
            Some(Command::Hint)
        );
        assert_eq!(map(KeyContext::Home, key(KeyCode::Char('h'))), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for ctx in [
            KeyContext::Home,
            KeyContext::Lab,
            KeyContext::Overlay,
            KeyContext::Notice,
        ] {
            assert_eq!(map(ctx, ctrl_c), Some(Command::Quit), "{ctx:?}");
        }
    }

    #[test]
    fn q_quits_at_home_but_goes_back_elsewhere() {
        let q = key(KeyCode::Char('q'));
        assert_eq!(map(KeyContext::Home, q), Some(Command::Quit));
        assert_eq!(map(KeyContext::Lab, q), Some(Command::Back));
        assert_eq!(map(KeyContext::Overlay, q), Some(Command::Back));
        assert_eq!(
            map(KeyContext::Notice, key(KeyCode::Char('x'))),
            Some(Command::Back)
        );
    }

    #[test]
    fn arrows_and_vim_keys_agree_and_releases_are_ignored() {
        for ctx in [KeyContext::Home, KeyContext::Lab, KeyContext::Overlay] {
            assert_eq!(
                map(ctx, key(KeyCode::Up)),
                map(ctx, key(KeyCode::Char('k')))
            );
            assert_eq!(
                map(ctx, key(KeyCode::Down)),
                map(ctx, key(KeyCode::Char('j')))
            );
        }
        let mut release = key(KeyCode::Char('c'));
        release.kind = KeyEventKind::Release;
        assert_eq!(map(KeyContext::Lab, release), None);
        let mut release = key(KeyCode::Char('t'));
        release.kind = KeyEventKind::Release;
        assert_eq!(map(KeyContext::Lab, release), None);
    }

    #[test]
    fn t_opens_the_target_picker_and_only_yes_confirms_a_switch() {
        let t = key(KeyCode::Char('t'));
        assert_eq!(map(KeyContext::Home, t), Some(Command::Target));
        assert_eq!(map(KeyContext::Lab, t), Some(Command::Target));
        assert_eq!(map(KeyContext::Picker, t), Some(Command::Back));
        assert_eq!(
            map(KeyContext::Picker, key(KeyCode::Enter)),
            Some(Command::Open)
        );
        for yes in [KeyCode::Enter, KeyCode::Char('y')] {
            assert_eq!(map(KeyContext::Confirm, key(yes)), Some(Command::Confirm));
        }
        for no in [KeyCode::Esc, KeyCode::Char('n'), KeyCode::Char('q')] {
            assert_eq!(map(KeyContext::Confirm, key(no)), Some(Command::Back));
        }
        // A stray key does not switch to a cluster.
        assert_eq!(map(KeyContext::Confirm, key(KeyCode::Char('x'))), None);
    }

    #[test]
    fn x_explains_in_a_lab_and_closes_the_explain_view_where_r_reads_again() {
        let x = key(KeyCode::Char('x'));
        assert_eq!(map(KeyContext::Lab, x), Some(Command::Explain));
        assert_eq!(map(KeyContext::Home, x), None);
        assert_eq!(map(KeyContext::Explain, x), Some(Command::Back));
        assert_eq!(
            map(KeyContext::Explain, key(KeyCode::Esc)),
            Some(Command::Back)
        );
        assert_eq!(
            map(KeyContext::Explain, key(KeyCode::Char('r'))),
            Some(Command::Refresh)
        );
        assert_eq!(
            map(KeyContext::Explain, key(KeyCode::Enter)),
            Some(Command::Open)
        );
        // Arrows choose a request, as they move everywhere else.
        assert_eq!(
            map(KeyContext::Explain, key(KeyCode::Down)),
            Some(Command::Down)
        );
        // r is not a refresh in the other windows.
        assert_eq!(map(KeyContext::Overlay, key(KeyCode::Char('r'))), None);
    }

    #[test]
    fn a_applies_and_r_resets_in_a_lab_and_enter_opens_the_next_lab_when_one_is_complete() {
        assert_eq!(
            map(KeyContext::Lab, key(KeyCode::Char('a'))),
            Some(Command::Apply)
        );
        assert_eq!(
            map(KeyContext::Lab, key(KeyCode::Char('r'))),
            Some(Command::Reset)
        );
        assert_eq!(map(KeyContext::Home, key(KeyCode::Char('a'))), None);
        assert_eq!(
            map(KeyContext::Complete, key(KeyCode::Enter)),
            Some(Command::Open)
        );
        assert_eq!(
            map(KeyContext::Complete, key(KeyCode::Esc)),
            Some(Command::Back)
        );
    }
}
