//! Sees the client's first flight as rustls reads it, so the ClientHello's
//! raw bytes can be fingerprinted without a second read of the socket and
//! without rustls losing a byte: the stream is passed through untouched,
//! and a copy of at most [`MAX_FLIGHT`] bytes is kept only until the hello
//! is complete (usually one read of a few hundred bytes).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::clienthello::{progress, Progress, MAX_FLIGHT};
use super::ja4::Ja4;

pub struct FirstFlight<S> {
    inner: S,
    /// The bytes read so far, while the hello is incomplete.
    seen: Vec<u8>,
    recording: bool,
}

impl<S> FirstFlight<S> {
    pub fn new(inner: S) -> Self {
        FirstFlight {
            inner,
            seen: Vec::new(),
            recording: true,
        }
    }

    /// The JA4 of what was seen, computed once; the copy is freed.
    pub fn take_ja4(&mut self) -> Option<Ja4> {
        self.recording = false;
        let seen = std::mem::take(&mut self.seen);
        Ja4::from_flight(&seen)
    }

    fn record(&mut self, new: &[u8]) {
        let room = MAX_FLIGHT - self.seen.len();
        self.seen.extend_from_slice(&new[..new.len().min(room)]);
        if progress(&self.seen) != Progress::NeedMore {
            self.recording = false;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstFlight<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.recording && matches!(polled, Poll::Ready(Ok(()))) {
            let new = &buf.filled()[before..];
            if new.is_empty() {
                this.recording = false;
            } else {
                this.record(new);
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstFlight<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The stream reads exactly what was sent, in any read sizes, and the
    /// fingerprint is the one of the hello within it.
    #[tokio::test]
    async fn passes_every_byte_through_and_fingerprints_the_hello() {
        let line = include_str!("testdata/ja4_vectors.txt")
            .lines()
            .find(|l| l.starts_with("tls12.pcap "))
            .unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let mut sent = hex::decode(fields[3]).unwrap();
        sent.extend_from_slice(b"and then application data");
        let (mut client, server) = tokio::io::duplex(64);
        let to_send = sent.clone();
        tokio::spawn(async move {
            for part in to_send.chunks(37) {
                client.write_all(part).await.unwrap();
            }
        });
        let mut flight = FirstFlight::new(server);
        let mut got = Vec::new();
        let mut buf = [0u8; 11];
        while got.len() < sent.len() {
            let n = flight.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, sent);
        assert!(
            !flight.recording,
            "stops copying once the hello is complete"
        );
        assert!(flight.seen.len() < sent.len());
        assert_eq!(flight.take_ja4().unwrap().as_str(), fields[2]);
        assert!(flight.seen.capacity() == 0, "the copy is freed");
    }

    #[tokio::test]
    async fn plain_http_gets_no_fingerprint_and_no_copy() {
        let (mut client, server) = tokio::io::duplex(1024);
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut flight = FirstFlight::new(server);
        let mut buf = [0u8; 64];
        let _ = flight.read(&mut buf).await.unwrap();
        assert!(!flight.recording);
        assert_eq!(flight.take_ja4(), None);
    }
}
