//! The TLS ClientHello as the client wrote it (RFC 8446 §4.1.2), read from
//! the raw first flight before rustls sees it: rustls keeps neither the
//! extension order nor the GREASE values JA4 must skip, so the fingerprint
//! needs the bytes. Everything here is hostile input: every length is
//! checked against what is there, nothing is trusted to fit, and the whole
//! flight is capped at [`MAX_FLIGHT`].

use std::borrow::Cow;

/// Content type `handshake` (RFC 8446 §5.1).
const HANDSHAKE: u8 = 22;
/// Handshake type `client_hello` (RFC 8446 §4).
const CLIENT_HELLO: u8 = 1;
/// A record's fragment is at most 2^14 bytes (RFC 8446 §5.1).
const MAX_RECORD: usize = 1 << 14;
/// The most of the first flight that is kept: one full record. A hello
/// that needs more (fragmented over records, or padded past 16 KiB) gets no
/// fingerprint rather than an unbounded buffer.
pub const MAX_FLIGHT: usize = 5 + MAX_RECORD;

pub const EXT_SERVER_NAME: u16 = 0x0000;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
pub const EXT_ALPN: u16 = 0x0010;
pub const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// RFC 8701 reserves `0x?A?A` (both bytes equal) in every registry a
/// client may GREASE; JA4 skips them wherever they appear.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// How far the recorded bytes are from holding a whole ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    Complete,
    /// Not a TLS ClientHello, or one larger than [`MAX_FLIGHT`].
    Invalid,
}

/// The fields JA4 reads, GREASE removed, lists in wire order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    pub ciphers: Vec<u16>,
    pub extensions: Vec<u16>,
    /// `host_name` from `server_name`, when well-formed.
    pub server_name: Option<Vec<u8>>,
    /// The first protocol in `application_layer_protocol_negotiation`.
    pub first_alpn: Option<Vec<u8>>,
    pub signature_algorithms: Vec<u16>,
    pub supported_versions: Vec<u16>,
}

impl ClientHello {
    /// Parses a first flight (TLS records as read from the socket).
    pub fn from_flight(flight: &[u8]) -> Option<ClientHello> {
        let message = handshake_message(flight).ok()?;
        parse(&message)
    }
}

/// Whether `flight` already holds the whole first ClientHello.
pub fn progress(flight: &[u8]) -> Progress {
    match handshake_message(flight) {
        Ok(_) => Progress::Complete,
        Err(p) => p,
    }
}

/// The ClientHello handshake message (header included), joined from
/// however many handshake records carry it (RFC 8446 §5.1 lets a client
/// fragment it: a fingerprint that read only the first record would be
/// trivially evaded).
fn handshake_message(flight: &[u8]) -> Result<Cow<'_, [u8]>, Progress> {
    let flight = &flight[..flight.len().min(MAX_FLIGHT)];
    let mut rest = flight;
    let mut joined: Option<Vec<u8>> = None;
    let mut first: &[u8] = &[];
    loop {
        let Some((header, body)) = rest.split_at_checked(5) else {
            return Err(if flight.len() == MAX_FLIGHT {
                Progress::Invalid
            } else {
                Progress::NeedMore
            });
        };
        if header[0] != HANDSHAKE {
            return Err(Progress::Invalid);
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 || len > MAX_RECORD {
            return Err(Progress::Invalid);
        }
        let Some((fragment, after)) = body.split_at_checked(len) else {
            return Err(if 5 + len > MAX_FLIGHT - (flight.len() - rest.len()) {
                Progress::Invalid
            } else {
                Progress::NeedMore
            });
        };
        rest = after;
        let so_far: &[u8] = match &mut joined {
            None if first.is_empty() => {
                first = fragment;
                first
            }
            None => {
                let mut v = first.to_vec();
                v.extend_from_slice(fragment);
                joined.insert(v)
            }
            Some(v) => {
                v.extend_from_slice(fragment);
                v
            }
        };
        let Some(header) = so_far.get(..4) else {
            continue;
        };
        if header[0] != CLIENT_HELLO {
            return Err(Progress::Invalid);
        }
        let declared = usize::from(header[1]) << 16 | usize::from(header[2]) << 8;
        let total = 4 + (declared | usize::from(header[3]));
        // Never more than the flight cap can hold, whatever it declares.
        if total > MAX_FLIGHT {
            return Err(Progress::Invalid);
        }
        if so_far.len() >= total {
            return Ok(match joined {
                None => Cow::Borrowed(&first[..total]),
                Some(mut v) => {
                    v.truncate(total);
                    Cow::Owned(v)
                }
            });
        }
    }
}

/// A cursor that refuses to read past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    /// A `<0..2^8-1>` vector (RFC 8446 §3.4).
    fn vec8(&mut self) -> Option<Reader<'a>> {
        let n = self.u8()?;
        self.take(usize::from(n)).map(Reader)
    }
    /// A `<0..2^16-1>` vector.
    fn vec16(&mut self) -> Option<Reader<'a>> {
        let n = self.u16()?;
        self.take(usize::from(n)).map(Reader)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The rest as big-endian `u16`s, GREASE removed; `None` if odd.
    fn u16s(self) -> Option<Vec<u16>> {
        if !self.0.len().is_multiple_of(2) {
            return None;
        }
        Some(
            self.0
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .filter(|v| !is_grease(*v))
                .collect(),
        )
    }
}

/// Parses one ClientHello handshake message. The outer structure must be
/// well-formed (a broken one gets no fingerprint); inside the extensions
/// JA4 reads, a malformed value is treated as absent, as rustls will refuse
/// that handshake anyway.
fn parse(message: &[u8]) -> Option<ClientHello> {
    let mut r = Reader(message.get(4..)?);
    let legacy_version = r.u16()?;
    r.take(32)?; // random
    let session_id = r.vec8()?;
    if session_id.0.len() > 32 {
        return None;
    }
    let ciphers = r.vec16()?.u16s()?;
    r.vec8()?; // legacy_compression_methods
    let mut hello = ClientHello {
        legacy_version,
        ciphers,
        ..ClientHello::default()
    };
    // TLS 1.2 lets a hello end before its extensions (RFC 5246 §7.4.1.2).
    if r.is_empty() {
        return Some(hello);
    }
    let mut extensions = r.vec16()?;
    while !extensions.is_empty() {
        let kind = extensions.u16()?;
        let data = extensions.vec16()?;
        if is_grease(kind) {
            continue;
        }
        hello.extensions.push(kind);
        match kind {
            EXT_SERVER_NAME => hello.server_name = server_name(data),
            EXT_ALPN => hello.first_alpn = first_alpn(data),
            EXT_SIGNATURE_ALGORITHMS => {
                hello.signature_algorithms = data_vec16(data).unwrap_or_default()
            }
            EXT_SUPPORTED_VERSIONS => {
                hello.supported_versions = data_vec8(data).unwrap_or_default()
            }
            _ => {}
        }
    }
    Some(hello)
}

/// RFC 6066 §3: the first `host_name` entry.
fn server_name(mut data: Reader<'_>) -> Option<Vec<u8>> {
    let mut list = data.vec16()?;
    while !list.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == 0 {
            return Some(name.0.to_vec());
        }
    }
    None
}

/// RFC 7301 §3.1: the first protocol name.
fn first_alpn(mut data: Reader<'_>) -> Option<Vec<u8>> {
    let mut list = data.vec16()?;
    list.vec8().map(|name| name.0.to_vec())
}

fn data_vec16(mut data: Reader<'_>) -> Option<Vec<u16>> {
    data.vec16()?.u16s()
}

fn data_vec8(mut data: Reader<'_>) -> Option<Vec<u16>> {
    data.vec8()?.u16s()
}

#[cfg(test)]
#[path = "clienthello_tests.rs"]
mod tests;
