//! SPDY/3.1 framing as kubectl's port-forward speaks it: control frames (SYN_STREAM,
//! SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE) and data frames,
//! with header blocks compressed by one zlib stream per direction that starts from the SPDY/3
//! preset dictionary.

use std::io;
use std::sync::LazyLock;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The SPDY protocol version spoken.
const VERSION: u16 = 3;

/// The largest frame payload accepted.
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// The largest decompressed header block accepted.
const MAX_HEADERS: usize = 1024 * 1024;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// Flag ending a stream's direction (control and data frames).
const FLAG_FIN: u8 = 0x01;

/// RST_STREAM status: the stream was cancelled.
#[cfg(test)]
const CANCEL: u32 = 5;

/// The header names and values the SPDY/3 draft puts in its compression dictionary, each
/// preceded by its 32-bit big-endian length in the dictionary.
const DICTIONARY_WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The text that ends the SPDY/3 dictionary (status codes, reason phrases, dates, common
/// values), without length prefixes.
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307",
    "402405406407408409410411412413414415416417",
    "502504505",
    "203 Non-Authoritative Information",
    "204 No Content",
    "301 Moved Permanently",
    "400 Bad Request",
    "401 Unauthorized",
    "403 Forbidden",
    "404 Not Found",
    "500 Internal Server Error",
    "501 Not Implemented",
    "503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec",
    " 00:00:00",
    " Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
    "text/plain,text/javascript,public",
    "private",
    "max-age=",
    "gzip,deflate,sdch",
    "charset=utf-8",
    "charset=iso-8859-1,utf-,*,enq=0.",
);

/// The SPDY/3 header compression dictionary.
pub(crate) static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut d = Vec::with_capacity(1424);
    for word in DICTIONARY_WORDS {
        d.extend_from_slice(&(word.len() as u32).to_be_bytes());
        d.extend_from_slice(word.as_bytes());
    }
    d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
    d
});

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A peer opens a stream.
    SynStream {
        /// The new stream.
        stream_id: u32,
        /// The peer will send nothing on it.
        fin: bool,
        /// Its headers (names lower-case).
        headers: Vec<(String, String)>,
    },
    /// A peer accepts a stream we opened.
    SynReply {
        /// The stream.
        stream_id: u32,
        /// The peer will send nothing more on it.
        fin: bool,
    },
    /// A stream is aborted.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// Why.
        status: u32,
    },
    /// Liveness check, to be echoed.
    Ping(u32),
    /// The peer ends the session.
    GoAway,
    /// More headers for a stream (or its end, with `fin`).
    Headers {
        /// The stream.
        stream_id: u32,
        /// The peer will send nothing more on it.
        fin: bool,
    },
    /// Payload of a stream.
    Data {
        /// The stream.
        stream_id: u32,
        /// The peer will send nothing more on it.
        fin: bool,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Settings, window updates and unknown control frames: nothing to do.
    Ignored,
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("spdy: {}", what.into()))
}

fn be32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Reads frames from the peer, inflating header blocks with the session's zlib stream.
pub(crate) struct FrameReader<R> {
    io: R,
    inflate: Decompress,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads frames from `io`.
    pub(crate) fn new(io: R) -> Self {
        Self {
            io,
            inflate: Decompress::new(true),
        }
    }

    /// The next frame; `None` when the peer closed the connection between frames.
    pub(crate) async fn next(&mut self) -> io::Result<Option<Frame>> {
        let mut head = [0u8; 8];
        match self.io.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let flags = head[4];
        let len = usize::try_from(be32(&[0, head[5], head[6], head[7]])).unwrap_or(usize::MAX);
        if len > MAX_FRAME {
            return Err(invalid(format!("frame of {len} bytes is too large")));
        }
        let mut payload = vec![0u8; len];
        self.io.read_exact(&mut payload).await?;
        let fin = flags & FLAG_FIN != 0;
        if head[0] & 0x80 == 0 {
            return Ok(Some(Frame::Data {
                stream_id: be32(&head) & 0x7FFF_FFFF,
                fin,
                data: payload,
            }));
        }
        let version = u16::from_be_bytes([head[0] & 0x7F, head[1]]);
        if version != VERSION {
            return Err(invalid(format!("unsupported version {version}")));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let stream_id = be32(&payload) & 0x7FFF_FFFF;
        let short = || invalid(format!("control frame {kind} is too short"));
        Ok(Some(match kind {
            SYN_STREAM => {
                let block = payload.get(10..).ok_or_else(short)?;
                let headers = self.headers(block)?;
                Frame::SynStream {
                    stream_id,
                    fin,
                    headers,
                }
            }
            SYN_REPLY | HEADERS => {
                let block = payload.get(4..).ok_or_else(short)?;
                // Read to keep the shared zlib stream in step.
                self.headers(block)?;
                if kind == SYN_REPLY {
                    Frame::SynReply { stream_id, fin }
                } else {
                    Frame::Headers { stream_id, fin }
                }
            }
            RST_STREAM => Frame::RstStream {
                stream_id,
                status: be32(payload.get(4..).ok_or_else(short)?),
            },
            PING => Frame::Ping(be32(payload.get(..4).ok_or_else(short)?)),
            GOAWAY => Frame::GoAway,
            SETTINGS | WINDOW_UPDATE => Frame::Ignored,
            _ => Frame::Ignored,
        }))
    }

    /// Inflates and parses one header block.
    fn headers(&mut self, block: &[u8]) -> io::Result<Vec<(String, String)>> {
        let raw = self.inflate_block(block)?;
        parse_headers(&raw)
    }

    fn inflate_block(&mut self, block: &[u8]) -> io::Result<Vec<u8>> {
        let mut out: Vec<u8> = Vec::with_capacity(block.len() * 4 + 256);
        let mut pos = 0usize;
        loop {
            if out.capacity() - out.len() < 512 {
                out.reserve(4096);
            }
            let (in_before, out_before) = (self.inflate.total_in(), out.len());
            let rest = block.get(pos..).unwrap_or(&[]);
            let needs_dictionary =
                match self
                    .inflate
                    .decompress_vec(rest, &mut out, FlushDecompress::Sync)
                {
                    Ok(_) => false,
                    Err(e) if e.needs_dictionary().is_some() => true,
                    Err(e) => return Err(invalid(format!("header block: {e}"))),
                };
            if needs_dictionary {
                self.inflate
                    .set_dictionary(&DICTIONARY)
                    .map_err(|e| invalid(format!("header dictionary: {e}")))?;
            }
            let consumed = usize::try_from(self.inflate.total_in() - in_before).unwrap_or(0);
            pos += consumed;
            if out.len() > MAX_HEADERS {
                return Err(invalid("header block too large"));
            }
            let progressed = consumed > 0 || out.len() > out_before || needs_dictionary;
            let room_left = out.capacity() > out.len();
            if (pos >= block.len() && room_left) || !progressed {
                return Ok(out);
            }
        }
    }
}

/// Parses an inflated header block: a count, then length-prefixed names and values.
fn parse_headers(raw: &[u8]) -> io::Result<Vec<(String, String)>> {
    let mut pos = 0usize;
    let mut take = |n: usize| -> io::Result<&[u8]> {
        let slice = raw
            .get(pos..pos.saturating_add(n))
            .ok_or_else(|| invalid("truncated header block"))?;
        pos += n;
        Ok(slice)
    };
    let count = be32(take(4)?);
    let mut headers = Vec::new();
    for _ in 0..count {
        let n = usize::try_from(be32(take(4)?)).unwrap_or(usize::MAX);
        let name = String::from_utf8_lossy(take(n)?).to_ascii_lowercase();
        let n = usize::try_from(be32(take(4)?)).unwrap_or(usize::MAX);
        let value = String::from_utf8_lossy(take(n)?).into_owned();
        for v in value.split('\0') {
            headers.push((name.clone(), v.to_owned()));
        }
    }
    Ok(headers)
}

/// Encodes frames for the peer, compressing header blocks with the session's zlib stream.
pub(crate) struct FrameWriter {
    deflate: Compress,
}

impl FrameWriter {
    /// A writer whose first header block starts the zlib stream with the SPDY dictionary.
    pub(crate) fn new() -> io::Result<Self> {
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(&DICTIONARY)
            .map_err(|e| invalid(format!("header dictionary: {e}")))?;
        Ok(Self { deflate })
    }

    /// A SYN_REPLY accepting `stream_id`, with `headers`.
    pub(crate) fn syn_reply(
        &mut self,
        stream_id: u32,
        headers: &[(&str, &str)],
    ) -> io::Result<Vec<u8>> {
        let block = self.compress(&encode_headers(headers))?;
        let mut payload = (stream_id & 0x7FFF_FFFF).to_be_bytes().to_vec();
        payload.extend_from_slice(&block);
        Ok(control(SYN_REPLY, 0, &payload))
    }

    /// A SYN_STREAM opening `stream_id` (used by tests playing the client).
    #[cfg(test)]
    pub(crate) fn syn_stream(
        &mut self,
        stream_id: u32,
        fin: bool,
        headers: &[(&str, &str)],
    ) -> io::Result<Vec<u8>> {
        let block = self.compress(&encode_headers(headers))?;
        let mut payload = (stream_id & 0x7FFF_FFFF).to_be_bytes().to_vec();
        payload.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        payload.extend_from_slice(&block);
        Ok(control(
            SYN_STREAM,
            if fin { FLAG_FIN } else { 0 },
            &payload,
        ))
    }

    fn compress(&mut self, raw: &[u8]) -> io::Result<Vec<u8>> {
        let mut out: Vec<u8> = Vec::with_capacity(raw.len() + 64);
        let mut pos = 0usize;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(1024);
            }
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(raw.get(pos..).unwrap_or(&[]), &mut out, FlushCompress::Sync)
                .map_err(|e| invalid(format!("compressing headers: {e}")))?;
            pos += usize::try_from(self.deflate.total_in() - before).unwrap_or(0);
            if pos >= raw.len() && out.capacity() > out.len() {
                return Ok(out);
            }
        }
    }
}

/// An uncompressed header block.
fn encode_headers(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut raw = (headers.len() as u32).to_be_bytes().to_vec();
    for (name, value) in headers {
        raw.extend_from_slice(&(name.len() as u32).to_be_bytes());
        raw.extend_from_slice(name.to_ascii_lowercase().as_bytes());
        raw.extend_from_slice(&(value.len() as u32).to_be_bytes());
        raw.extend_from_slice(value.as_bytes());
    }
    raw
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

/// A data frame on `stream_id` (with `fin`, the last one we send on it).
pub(crate) fn data(stream_id: u32, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(stream_id & 0x7FFF_FFFF).to_be_bytes());
    out.push(if fin { FLAG_FIN } else { 0 });
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

/// A RST_STREAM aborting `stream_id`.
pub(crate) fn rst_stream(stream_id: u32, status: u32) -> Vec<u8> {
    let mut payload = (stream_id & 0x7FFF_FFFF).to_be_bytes().to_vec();
    payload.extend_from_slice(&status.to_be_bytes());
    control(RST_STREAM, 0, &payload)
}

/// A PING answering (or asking) `id`.
pub(crate) fn ping(id: u32) -> Vec<u8> {
    control(PING, 0, &id.to_be_bytes())
}

/// A GOAWAY ending the session normally.
pub(crate) fn goaway(last_stream: u32) -> Vec<u8> {
    let mut payload = (last_stream & 0x7FFF_FFFF).to_be_bytes().to_vec();
    payload.extend_from_slice(&0u32.to_be_bytes());
    control(GOAWAY, 0, &payload)
}

/// What a session's writer task sends.
#[derive(Debug)]
pub(crate) enum Out {
    /// An encoded frame.
    Frame(Vec<u8>),
    /// A SYN_REPLY accepting a stream (its header block is compressed in order by the writer).
    Reply(u32),
}

/// Starts the task that writes a session's frames in the order they are queued; it ends (and
/// shuts the connection's write side) when every sender is dropped.
pub(crate) fn spawn_writer<W>(mut io: W) -> (mpsc::Sender<Out>, JoinHandle<()>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Out>(64);
    let task = tokio::spawn(async move {
        let Ok(mut frames) = FrameWriter::new() else {
            return;
        };
        while let Some(out) = rx.recv().await {
            let bytes = match out {
                Out::Frame(bytes) => bytes,
                Out::Reply(id) => match frames.syn_reply(id, &[]) {
                    Ok(bytes) => bytes,
                    Err(_) => return,
                },
            };
            if io.write_all(&bytes).await.is_err() || io.flush().await.is_err() {
                return;
            }
        }
        let _ = io.shutdown().await;
    });
    (tx, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_has_the_size_of_the_spdy3_draft() {
        assert_eq!(DICTIONARY.len(), 1423);
        assert!(DICTIONARY.starts_with(b"\0\0\0\x07options\0\0\0\x04head"));
        assert!(DICTIONARY.ends_with(b"utf-,*,enq=0."));
    }

    #[tokio::test]
    async fn frames_round_trip_through_one_compression_stream() {
        let mut writer = FrameWriter::new().expect("writer");
        let mut wire = writer
            .syn_stream(
                1,
                false,
                &[
                    ("streamType", "error"),
                    ("port", "8080"),
                    ("requestid", "0"),
                ],
            )
            .expect("syn");
        wire.extend(
            writer
                .syn_stream(3, false, &[("streamtype", "data"), ("port", "8080")])
                .expect("syn"),
        );
        wire.extend(data(3, false, b"GET / HTTP/1.1\r\n"));
        wire.extend(writer.syn_reply(3, &[]).expect("reply"));
        wire.extend(ping(7));
        wire.extend(rst_stream(3, CANCEL));
        wire.extend(data(1, true, b""));
        wire.extend(goaway(3));
        let mut reader = FrameReader::new(wire.as_slice());
        let mut frames = Vec::new();
        while let Some(f) = reader.next().await.expect("frame") {
            frames.push(f);
        }
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        assert_eq!(
            frames,
            vec![
                Frame::SynStream {
                    stream_id: 1,
                    fin: false,
                    headers: h(&[
                        ("streamtype", "error"),
                        ("port", "8080"),
                        ("requestid", "0")
                    ]),
                },
                Frame::SynStream {
                    stream_id: 3,
                    fin: false,
                    headers: h(&[("streamtype", "data"), ("port", "8080")]),
                },
                Frame::Data {
                    stream_id: 3,
                    fin: false,
                    data: b"GET / HTTP/1.1\r\n".to_vec()
                },
                Frame::SynReply {
                    stream_id: 3,
                    fin: false
                },
                Frame::Ping(7),
                Frame::RstStream {
                    stream_id: 3,
                    status: CANCEL
                },
                Frame::Data {
                    stream_id: 1,
                    fin: true,
                    data: vec![]
                },
                Frame::GoAway,
            ]
        );
    }

    #[tokio::test]
    async fn garbage_is_an_error_not_a_panic() {
        let mut wire = control(SYN_STREAM, 0, &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
        wire.extend(control(PING, 0, &[1]));
        let mut reader = FrameReader::new(wire.as_slice());
        assert!(reader.next().await.is_err());
        let short = control(PING, 0, &[1]);
        let mut reader = FrameReader::new(short.as_slice());
        assert!(reader.next().await.is_err());
    }
}
