//! `sh` reading commands from its input: with a terminal (`kubectl exec -it … -- sh`) it prints
//! a prompt, echoes what is typed, handles backspace, Ctrl-C (interrupts the running command),
//! Ctrl-D and Ctrl-U; without one (`echo 'hostname' | kubectl exec -i … -- sh`) it runs each
//! line as it arrives. Continuation lines of an unfinished command get the `> ` prompt.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::interp::Shell;
use super::io::{Input, Interrupt, Io, Out, PIPE_CAPACITY};
use super::parse;

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const CTRL_U: u8 = 0x15;
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
const ESC: u8 = 0x1b;

/// Where an escape sequence being skipped stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// Inside `ESC [ …` until its final letter.
    Csi,
}

/// Reads and runs commands until `exit` or the end of input; returns the exit status.
pub(crate) async fn run(shell: &mut Shell<'_>, io: &Io, tty: bool) -> i32 {
    if tty {
        on_terminal(shell, io).await
    } else {
        from_pipe(shell, io).await
    }
}

/// `sh` on a terminal: prompt, echo, line editing; commands get their input through the
/// terminal's cooked mode (see [`complete_line`]); stderr shows on the terminal.
async fn on_terminal(shell: &mut Shell<'_>, io: &Io) -> i32 {
    let input = io.stdin.clone();
    let command_io = Io {
        stdin: Input::none(),
        stdout: io.stdout.clone(),
        stderr: io.stdout.clone(),
    };
    let mut queue: VecDeque<u8> = VecDeque::new();
    let mut line: Vec<u8> = Vec::new();
    let mut pending = String::new();
    let mut escape = Escape::None;
    prompt(shell, io, false).await;
    loop {
        let Some(byte) = queue.pop_front() else {
            match input.chunk().await {
                Some(chunk) => queue.extend(chunk),
                None => break,
            }
            continue;
        };
        match escape {
            Escape::Start => {
                escape = if byte == b'[' || byte == b'O' {
                    Escape::Csi
                } else {
                    Escape::None
                };
                continue;
            }
            Escape::Csi => {
                if byte.is_ascii_alphabetic() || byte == b'~' {
                    escape = Escape::None;
                }
                continue;
            }
            Escape::None => {}
        }
        match byte {
            ESC => escape = Escape::Start,
            CTRL_C => {
                io.stdout.print("^C\r\n").await;
                line.clear();
                pending.clear();
                shell.status = 130;
                prompt(shell, io, false).await;
            }
            CTRL_D => {
                if line.is_empty() && pending.is_empty() {
                    io.stdout.print("\r\n").await;
                    break;
                }
            }
            CTRL_U => {
                let n = String::from_utf8_lossy(&line).chars().count();
                io.stdout.print("\x08 \x08".repeat(n)).await;
                line.clear();
            }
            BACKSPACE | DELETE => {
                if !line.is_empty() {
                    // Remove one whole UTF-8 character.
                    while let Some(b) = line.pop() {
                        if b & 0xC0 != 0x80 {
                            break;
                        }
                    }
                    io.stdout.print("\x08 \x08").await;
                }
            }
            b'\r' | b'\n' => {
                io.stdout.print("\r\n").await;
                let text = String::from_utf8_lossy(&std::mem::take(&mut line)).into_owned();
                let terminal = Some((&input, &mut queue));
                if let Some(status) =
                    complete_line(shell, &command_io, &mut pending, &text, terminal).await
                {
                    return status;
                }
                prompt(shell, io, !pending.is_empty()).await;
            }
            b if b < 0x20 => {}
            b => {
                line.push(b);
                io.stdout.write(vec![b]).await;
            }
        }
    }
    shell.exit.unwrap_or(shell.status)
}

/// `sh` reading a script from a pipe, one line at a time: commands share that input, so
/// `read` takes the script's next line and `cat` the rest, as with a real shell.
async fn from_pipe(shell: &mut Shell<'_>, io: &Io) -> i32 {
    let mut pending = String::new();
    while let Some(line) = io.stdin.read_line().await {
        let text = String::from_utf8_lossy(&line).into_owned();
        if let Some(status) = complete_line(shell, io, &mut pending, &text, None).await {
            return status;
        }
    }
    if !pending.is_empty()
        && let Err(e) = parse::parse(&pending)
    {
        io.stderr.print(format!("sh: {e}\n")).await;
        return 2;
    }
    shell.exit.unwrap_or(shell.status)
}

/// Adds a line to the command being typed and runs it once complete; `Some(status)` when the
/// shell exits. With a terminal, Ctrl-C typed while the command runs interrupts it.
async fn complete_line(
    shell: &mut Shell<'_>,
    io: &Io,
    pending: &mut String,
    text: &str,
    terminal: Option<(&Input, &mut VecDeque<u8>)>,
) -> Option<i32> {
    pending.push_str(text);
    pending.push('\n');
    let script = match parse::parse(pending) {
        Ok(script) => {
            pending.clear();
            script
        }
        Err(e) if e.incomplete => return None,
        Err(e) => {
            pending.clear();
            io.stderr.print(format!("sh: {e}\n")).await;
            shell.status = 2;
            return None;
        }
    };
    match terminal {
        None => {
            shell.run_script(&script, io).await;
        }
        Some((input, queue)) => {
            // While the command runs, the terminal is in cooked mode for it: keys are echoed,
            // a line goes to the command's input on Enter, Ctrl-D ends its input, Ctrl-C
            // interrupts it. What it leaves unread is typed ahead for the shell.
            let (tx, rx) = mpsc::channel::<Bytes>(PIPE_CAPACITY);
            let command_input = Input::from_channel(rx);
            let command_io = Io {
                stdin: command_input.clone(),
                ..io.clone()
            };
            let mut cooked = Cooked {
                line: Vec::new(),
                tx: Some(tx),
                unsent: Vec::new(),
            };
            // Each command gets its own Ctrl-C: a program that handles it (fortio load) ends
            // by itself after the first, others are stopped; a second one stops any.
            let interrupt = Interrupt::default();
            shell.interrupt = interrupt.clone();
            let mut presses = 0;
            let interrupted = {
                let run = shell.run_script(&script, &command_io);
                tokio::pin!(run);
                let mut closed = false;
                'running: loop {
                    tokio::select! {
                        _ = &mut run => break false,
                        chunk = input.chunk(), if !closed => match chunk {
                            Some(bytes) => {
                                let mut rest: &[u8] = &bytes;
                                while let Some(i) = rest.iter().position(|b| *b == CTRL_C) {
                                    cooked.keys(&rest[..i], &io.stdout).await;
                                    presses += 1;
                                    if !interrupt.fire() || presses > 1 {
                                        break 'running true;
                                    }
                                    io.stdout.print("^C\r\n").await;
                                    rest = &rest[i + 1..];
                                }
                                cooked.keys(rest, &io.stdout).await;
                            }
                            None => closed = true,
                        },
                    }
                }
            };
            drop(command_io);
            shell.interrupt = Interrupt::default();
            if interrupted {
                // The terminal's SIGINT flushes what was typed ahead.
                queue.clear();
                io.stdout.print("^C\r\n").await;
                shell.status = 130;
                return shell.exit;
            }
            let mut left = command_input.take_buffered();
            left.append(&mut cooked.unsent);
            left.append(&mut cooked.line);
            let typed_ahead: Vec<u8> = left
                .into_iter()
                .map(|b| if b == b'\n' { b'\r' } else { b })
                .chain(queue.drain(..))
                .collect();
            queue.extend(typed_ahead);
        }
    }
    shell.exit
}

/// The terminal's line discipline for a running command.
struct Cooked {
    /// The line being typed.
    line: Vec<u8>,
    /// The command's input; `None` after Ctrl-D.
    tx: Option<mpsc::Sender<Bytes>>,
    /// Lines the command has not taken yet (its input is full or closed).
    unsent: Vec<u8>,
}

impl Cooked {
    async fn keys(&mut self, bytes: &[u8], echo: &Out) {
        for &b in bytes {
            match b {
                b'\r' | b'\n' => {
                    echo.print("\r\n").await;
                    self.line.push(b'\n');
                    let line = std::mem::take(&mut self.line);
                    self.send(line);
                }
                CTRL_D => {
                    if self.line.is_empty() {
                        self.tx = None;
                    } else {
                        let line = std::mem::take(&mut self.line);
                        self.send(line);
                    }
                }
                BACKSPACE | DELETE => {
                    if !self.line.is_empty() {
                        while let Some(c) = self.line.pop() {
                            if c & 0xC0 != 0x80 {
                                break;
                            }
                        }
                        echo.print("\x08 \x08").await;
                    }
                }
                b if b < 0x20 && b != b'\t' => {}
                b => {
                    self.line.push(b);
                    echo.write(vec![b]).await;
                }
            }
        }
    }

    fn send(&mut self, line: Vec<u8>) {
        let rejected = match &self.tx {
            Some(tx) if self.unsent.is_empty() => {
                tx.try_send(Bytes::from(line)).err().map(|e| match e {
                    mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b) => {
                        b.to_vec()
                    }
                })
            }
            _ => Some(line),
        };
        if let Some(mut line) = rejected {
            self.unsent.append(&mut line);
        }
    }
}

/// `~ $ ` (the directory, `~` for home) or `> ` for a continuation line.
async fn prompt(shell: &Shell<'_>, io: &Io, continuation: bool) {
    let text = if continuation {
        "> ".to_owned()
    } else {
        let home = shell.var("HOME").unwrap_or("/root");
        let dir = if shell.cwd == home {
            "~".to_owned()
        } else if let Some(rest) = shell.cwd.strip_prefix(&format!("{home}/")) {
            format!("~/{rest}")
        } else {
            shell.cwd.clone()
        };
        format!("{dir} $ ")
    };
    io.stdout.print(text).await;
}
