//! The standard streams of a command inside the shell: an input shared by the commands that
//! read it in turn (so `read` leaves the rest of a line for the next reader), and outputs that
//! are channels (pipes, the exec stream, a file being written) or nowhere (`/dev/null`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tokio::sync::{Mutex, Notify, mpsc};

/// How many chunks a pipe holds before its writer waits.
pub(crate) const PIPE_CAPACITY: usize = 16;

/// Where a command writes.
#[derive(Clone, Debug)]
pub(crate) enum Out {
    /// A channel (a pipe, the exec stream, a file's collector).
    Chan(mpsc::Sender<Bytes>),
    /// `/dev/null`.
    Null,
}

impl Out {
    /// Writes bytes; `false` when the reader is gone (the writer should stop, as on SIGPIPE).
    pub(crate) async fn write(&self, data: impl Into<Bytes>) -> bool {
        match self {
            Self::Chan(tx) => {
                let data = data.into();
                if data.is_empty() {
                    return !tx.is_closed();
                }
                tx.send(data).await.is_ok()
            }
            Self::Null => true,
        }
    }

    /// Writes text.
    pub(crate) async fn print(&self, text: impl Into<String>) -> bool {
        self.write(Bytes::from(text.into())).await
    }

    /// A pipe: the writing end and the reading end as an input.
    pub(crate) fn pipe() -> (Self, Input) {
        let (tx, rx) = mpsc::channel(PIPE_CAPACITY);
        (Self::Chan(tx), Input::from_channel(rx))
    }
}

/// Where a command reads from; clones share the same stream and buffer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Input(Option<Arc<Mutex<Reader>>>);

#[derive(Debug)]
struct Reader {
    rx: Option<mpsc::Receiver<Bytes>>,
    buffered: Vec<u8>,
}

impl Input {
    /// No input at all (reads see end of input at once).
    pub(crate) fn none() -> Self {
        Self(None)
    }

    /// Input from a channel.
    pub(crate) fn from_channel(rx: mpsc::Receiver<Bytes>) -> Self {
        Self(Some(Arc::new(Mutex::new(Reader {
            rx: Some(rx),
            buffered: Vec::new(),
        }))))
    }

    /// Input from bytes known in advance (`< file`).
    pub(crate) fn from_bytes(data: Vec<u8>) -> Self {
        Self(Some(Arc::new(Mutex::new(Reader {
            rx: None,
            buffered: data,
        }))))
    }

    /// The next chunk; `None` at the end of input.
    pub(crate) async fn chunk(&self) -> Option<Vec<u8>> {
        let inner = self.0.as_ref()?;
        let mut reader = inner.lock().await;
        if !reader.buffered.is_empty() {
            return Some(std::mem::take(&mut reader.buffered));
        }
        let rx = reader.rx.as_mut()?;
        match rx.recv().await {
            Some(b) => Some(b.to_vec()),
            None => {
                reader.rx = None;
                None
            }
        }
    }

    /// Everything up to the end of input.
    pub(crate) async fn read_all(&self) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(chunk) = self.chunk().await {
            all.extend_from_slice(&chunk);
        }
        all
    }

    /// What is buffered or already sent but not read, without waiting (typed-ahead keys a
    /// command left unread).
    pub(crate) fn take_buffered(&self) -> Vec<u8> {
        let Some(inner) = &self.0 else {
            return Vec::new();
        };
        let Ok(mut reader) = inner.try_lock() else {
            return Vec::new();
        };
        let mut out = std::mem::take(&mut reader.buffered);
        if let Some(rx) = reader.rx.as_mut() {
            while let Ok(chunk) = rx.try_recv() {
                out.extend_from_slice(&chunk);
            }
        }
        out
    }

    /// One line without its newline; `None` at the end of input with nothing read.
    pub(crate) async fn read_line(&self) -> Option<Vec<u8>> {
        let inner = self.0.as_ref()?;
        let mut reader = inner.lock().await;
        loop {
            if let Some(i) = reader.buffered.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = reader.buffered.drain(..=i).collect();
                line.pop();
                return Some(line);
            }
            let next = match reader.rx.as_mut() {
                Some(rx) => rx.recv().await,
                None => None,
            };
            match next {
                Some(b) => reader.buffered.extend_from_slice(&b),
                None => {
                    reader.rx = None;
                    if reader.buffered.is_empty() {
                        return None;
                    }
                    return Some(std::mem::take(&mut reader.buffered));
                }
            }
        }
    }
}

/// Ctrl-C on the terminal (SIGINT) for the command running in the foreground. A program that
/// handles it (fortio load prints its report) says so with [`Interrupt::handle`]; others are
/// stopped at once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interrupt(Arc<InterruptState>);

#[derive(Debug, Default)]
struct InterruptState {
    fired: AtomicBool,
    handled: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    /// Delivers the interrupt; `true` when the running program handles it itself.
    pub(crate) fn fire(&self) -> bool {
        self.0.fired.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
        self.0.handled.load(Ordering::SeqCst)
    }

    /// The running program handles the interrupt (it ends by itself after one).
    pub(crate) fn handle(&self) {
        self.0.handled.store(true, Ordering::SeqCst);
    }

    /// Whether the interrupt was delivered.
    pub(crate) fn fired(&self) -> bool {
        self.0.fired.load(Ordering::SeqCst)
    }

    /// Waits until the interrupt is delivered.
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.fired() {
                return;
            }
            notified.await;
        }
    }
}

/// The three streams of a command.
#[derive(Clone, Debug)]
pub(crate) struct Io {
    /// Standard input.
    pub stdin: Input,
    /// Standard output.
    pub stdout: Out,
    /// Standard error.
    pub stderr: Out,
}

/// Splits text into lines, keeping whether the last one ended with a newline.
pub(crate) fn lines(data: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        out.pop();
    }
    out
}
