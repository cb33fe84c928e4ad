//! The server side of RFC 6455 WebSockets, as much as kubectl's streaming needs: the opening
//! handshake, reading masked (possibly fragmented) client frames, answering pings, and writing
//! unmasked binary frames and the closing handshake.

use std::io;

use base64::Engine;
use http::{HeaderMap, Response, header};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::api::{ApiError, Body};

/// The GUID RFC 6455 appends to the client's key.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The largest message accepted from a client (frames are joined first).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
pub(crate) fn accept_key(key: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{}{ACCEPT_GUID}", key.trim()).as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// Checks a WebSocket upgrade request and picks the first subprotocol the client offers that
/// is in `supported`; returns it with the `101 Switching Protocols` answer.
pub(crate) fn handshake(
    headers: &HeaderMap,
    supported: &[&str],
) -> Result<(String, Response<Body>), ApiError> {
    let key = headers
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("websocket upgrade without Sec-WebSocket-Key"))?;
    let offered: Vec<String> = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let protocol = offered
        .iter()
        .find(|p| supported.contains(&p.as_str()))
        .cloned()
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to upgrade: none of the requested subprotocols ({}) is supported; \
                 supported: {}",
                offered.join(", "),
                supported.join(", ")
            ))
        })?;
    let mut resp = super::switching_protocols("websocket");
    let h = resp.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&accept_key(key)) {
        h.insert("sec-websocket-accept", v);
    }
    if let Ok(v) = header::HeaderValue::from_str(&protocol) {
        h.insert("sec-websocket-protocol", v);
    }
    Ok((protocol, resp))
}

/// One message from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// A binary or text message (fragments joined).
    Data(Vec<u8>),
    /// A ping to answer with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// The client started the closing handshake.
    Close,
}

/// Reads client messages from a byte stream.
#[derive(Debug)]
pub(crate) struct Reader<R> {
    inner: R,
    /// The fragments of a message received so far.
    partial: Vec<u8>,
    /// Whether a fragmented message is in progress.
    in_fragments: bool,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads from `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            partial: Vec::new(),
            in_fragments: false,
        }
    }

    /// The next message; `None` when the connection ended without a close frame. Pongs are
    /// skipped; control frames between fragments are returned at once.
    pub(crate) async fn next(&mut self) -> io::Result<Option<Message>> {
        loop {
            let Some((fin, opcode, payload)) = self.frame().await? else {
                return Ok(None);
            };
            match opcode {
                OP_PING => return Ok(Some(Message::Ping(payload))),
                OP_PONG => {}
                OP_CLOSE => return Ok(Some(Message::Close)),
                OP_TEXT | OP_BINARY | OP_CONTINUATION => {
                    if (opcode == OP_CONTINUATION) != self.in_fragments {
                        return Err(invalid("unexpected continuation frame"));
                    }
                    if self.partial.len() + payload.len() > MAX_MESSAGE {
                        return Err(invalid("message too large"));
                    }
                    self.partial.extend_from_slice(&payload);
                    self.in_fragments = !fin;
                    if fin {
                        return Ok(Some(Message::Data(std::mem::take(&mut self.partial))));
                    }
                }
                other => return Err(invalid(&format!("unknown opcode {other}"))),
            }
        }
    }

    /// One frame: (fin, opcode, unmasked payload); `None` at a clean end of stream.
    async fn frame(&mut self) -> io::Result<Option<(bool, u8, Vec<u8>)>> {
        let mut head = [0u8; 2];
        match self.inner.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0F;
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7F {
            126 => u64::from(self.inner.read_u16().await?),
            127 => self.inner.read_u64().await?,
            n => u64::from(n),
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_MESSAGE)
            .ok_or_else(|| invalid("frame too large"))?;
        let mut mask = [0u8; 4];
        if masked {
            self.inner.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; len];
        self.inner.read_exact(&mut payload).await?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok(Some((fin, opcode, payload)))
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("websocket: {what}"))
}

/// Encodes one unmasked, final frame as a server sends it.
pub(crate) fn encode_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(u8::try_from(n).unwrap_or(0)),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// What the writer task sends.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A binary message.
    Binary(Vec<u8>),
    /// A pong answering a ping.
    Pong(Vec<u8>),
    /// A close frame with a status code; the writer then shuts the connection down.
    Close(u16),
}

/// Starts the task that writes messages to the client, in the order they are queued; dropping
/// every sender ends it with a normal close.
pub(crate) fn spawn_writer<W>(mut io: W) -> mpsc::Sender<Outgoing>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Outgoing>(64);
    tokio::spawn(async move {
        let mut closed = false;
        while let Some(out) = rx.recv().await {
            let frame = match out {
                Outgoing::Binary(data) => encode_frame(OP_BINARY, &data),
                Outgoing::Pong(data) => encode_frame(OP_PONG, &data),
                Outgoing::Close(code) => {
                    closed = true;
                    encode_frame(OP_CLOSE, &code.to_be_bytes())
                }
            };
            if io.write_all(&frame).await.is_err() || io.flush().await.is_err() {
                return;
            }
            if closed {
                break;
            }
        }
        if !closed {
            let _ = io
                .write_all(&encode_frame(OP_CLOSE, &1000u16.to_be_bytes()))
                .await;
        }
        let _ = io.flush().await;
        let _ = io.shutdown().await;
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        if payload.len() < 126 {
            out.push(0x80 | payload.len() as u8);
        } else {
            out.push(0x80 | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[tokio::test]
    async fn reads_masked_fragmented_messages_and_control_frames() {
        let mut wire = masked(false, OP_BINARY, b"\x00hel");
        wire.extend(masked(true, OP_PING, b"p"));
        wire.extend(masked(true, OP_CONTINUATION, b"lo"));
        let big = vec![7u8; 300];
        wire.extend(masked(true, OP_BINARY, &big));
        wire.extend(masked(true, OP_CLOSE, &1000u16.to_be_bytes()));
        let mut reader = Reader::new(wire.as_slice());
        assert_eq!(
            reader.next().await.expect("ping"),
            Some(Message::Ping(b"p".to_vec()))
        );
        assert_eq!(
            reader.next().await.expect("joined"),
            Some(Message::Data(b"\x00hello".to_vec()))
        );
        assert_eq!(reader.next().await.expect("big"), Some(Message::Data(big)));
        assert_eq!(reader.next().await.expect("close"), Some(Message::Close));
        assert_eq!(reader.next().await.expect("eof"), None);
    }

    #[tokio::test]
    async fn a_continuation_without_a_start_is_an_error() {
        let wire = masked(true, OP_CONTINUATION, b"x");
        let mut reader = Reader::new(wire.as_slice());
        assert!(reader.next().await.is_err());
    }

    #[test]
    fn frames_use_the_shortest_length_encoding() {
        assert_eq!(encode_frame(OP_BINARY, b"ab"), vec![0x82, 2, b'a', b'b']);
        let f = encode_frame(OP_BINARY, &[0u8; 200]);
        assert_eq!(&f[..4], &[0x82, 126, 0, 200]);
        let f = encode_frame(OP_BINARY, &vec![0u8; 70_000]);
        assert_eq!(&f[..2], &[0x82, 127]);
        assert_eq!(f.len(), 70_000 + 10);
    }
}
