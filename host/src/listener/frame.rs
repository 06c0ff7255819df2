//! RFC 1035 §4.2.2 / RFC 7766 §8 framing: each message on a TCP stream is
//! preceded by its length as a 2-byte big-endian integer.
//!
//! [`FrameReader`] keeps its partial input in its own buffer, so
//! [`FrameReader::next_frame`] is cancel-safe: a `select!` that abandons it (idle
//! timeout, shutdown) loses no bytes. Frames are handed out as slices of that
//! buffer, without a copy.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::buffer::PooledBuf;

/// Read size when nothing says how much is coming.
const READ_CHUNK: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A zero-length frame: no DNS message is shorter than its 12-byte header, so
    /// the peer is not speaking DNS (or the stream lost sync).
    #[error("zero-length frame")]
    ZeroLength,
    /// The peer closed the stream inside a frame.
    #[error("stream closed inside a frame ({buffered} bytes buffered)")]
    Truncated { buffered: usize },
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

/// Splits a byte stream into DNS messages.
pub struct FrameReader {
    buf: PooledBuf,
    /// Start of unconsumed input in `buf`.
    start: usize,
    /// Bytes of the frame last returned, consumed on the next call.
    returned: usize,
}

impl FrameReader {
    pub fn new(mut buf: PooledBuf) -> FrameReader {
        buf.clear();
        FrameReader {
            buf,
            start: 0,
            returned: 0,
        }
    }

    /// The next message, `None` on a clean end of stream (between frames).
    /// The slice is valid until the next call.
    pub async fn next_frame<R>(&mut self, reader: &mut R) -> Result<Option<&[u8]>, FrameError>
    where
        R: AsyncRead + Unpin,
    {
        self.consume_returned();
        loop {
            if let Some(len) = self.complete_frame()? {
                let body = self.start + 2;
                self.returned = 2 + len;
                return Ok(Some(&self.buf[body..body + len]));
            }
            self.make_room();
            if reader.read_buf(&mut *self.buf).await? == 0 {
                return match self.buffered() {
                    0 => Ok(None),
                    buffered => Err(FrameError::Truncated { buffered }),
                };
            }
        }
    }

    /// Bytes read but not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn consume_returned(&mut self) {
        self.start += std::mem::take(&mut self.returned);
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Length of the frame at `start` if all of it is buffered.
    fn complete_frame(&self) -> Result<Option<usize>, FrameError> {
        let input = &self.buf[self.start..];
        let [hi, lo, ..] = *input else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len == 0 {
            return Err(FrameError::ZeroLength);
        }
        Ok((input.len() >= 2 + len).then_some(len))
    }

    /// Ensures spare capacity for the rest of the current frame (or a chunk),
    /// moving the partial frame to the front first so the buffer never exceeds
    /// one maximal frame plus a chunk.
    fn make_room(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let want = match *self.buf.as_slice() {
            [hi, lo, ..] => 2 + usize::from(u16::from_be_bytes([hi, lo])),
            _ => 0,
        };
        let spare = want.saturating_sub(self.buf.len()).max(READ_CHUNK);
        self.buf.reserve(spare);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    /// Hands out `data` in reads of at most `step` bytes.
    struct Chunked {
        data: Vec<u8>,
        pos: usize,
        step: usize,
    }

    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let end = (self.pos + self.step)
                .min(self.data.len())
                .min(self.pos + out.remaining());
            out.put_slice(&self.data[self.pos..end]);
            self.pos = end;
            Poll::Ready(Ok(()))
        }
    }

    fn framed(messages: &[&[u8]]) -> Vec<u8> {
        let mut wire = Vec::new();
        for m in messages {
            wire.extend_from_slice(&(m.len() as u16).to_be_bytes());
            wire.extend_from_slice(m);
        }
        wire
    }

    fn reader() -> FrameReader {
        FrameReader::new(PooledBuf::detached(Vec::new()))
    }

    async fn read_all(wire: Vec<u8>, step: usize) -> (Vec<Vec<u8>>, Result<(), FrameError>) {
        let mut src = Chunked {
            data: wire,
            pos: 0,
            step,
        };
        let mut frames = reader();
        let mut got = Vec::new();
        loop {
            match frames.next_frame(&mut src).await {
                Ok(Some(f)) => got.push(f.to_vec()),
                Ok(None) => return (got, Ok(())),
                Err(e) => return (got, Err(e)),
            }
        }
    }

    #[tokio::test]
    async fn frames_arrive_whole_at_every_read_size() {
        let big = vec![0xab; 65_535];
        let messages: [&[u8]; 4] = [b"first query", b"x", &big, b"last"];
        for step in [1, 2, 3, 7, 512, 70_000] {
            let (got, end) = read_all(framed(&messages), step).await;
            assert!(end.is_ok(), "step {step}: {end:?}");
            assert_eq!(got, messages.map(<[u8]>::to_vec), "step {step}");
        }
    }

    #[tokio::test]
    async fn clean_eof_before_any_frame_is_none() {
        let (got, end) = read_all(Vec::new(), 1).await;
        assert!(got.is_empty());
        assert!(end.is_ok());
    }

    #[tokio::test]
    async fn eof_at_every_byte_inside_a_frame_is_truncated() {
        let wire = framed(&[b"abcdef", b"ghij"]);
        let first_end = 2 + 6;
        for cut in 1..wire.len() {
            if cut == first_end {
                continue;
            }
            let (got, end) = read_all(wire[..cut].to_vec(), 1).await;
            assert_eq!(got.len(), usize::from(cut > first_end), "cut {cut}");
            let buffered = if cut > first_end {
                cut - first_end
            } else {
                cut
            };
            assert!(
                matches!(end, Err(FrameError::Truncated { buffered: b }) if b == buffered),
                "cut {cut}: {end:?}"
            );
        }
    }

    #[tokio::test]
    async fn zero_length_frame_is_an_error_after_earlier_frames() {
        let mut wire = framed(&[b"ok"]);
        wire.extend_from_slice(&[0, 0]);
        wire.extend_from_slice(&framed(&[b"never"]));
        let (got, end) = read_all(wire, 1).await;
        assert_eq!(got, vec![b"ok".to_vec()]);
        assert!(matches!(end, Err(FrameError::ZeroLength)));
    }

    #[tokio::test]
    async fn abandoned_reads_lose_no_bytes() {
        // A duplex pipe that gets one byte at a time with a timeout around each read,
        // the way the connection's select! abandons reads.
        let (mut tx, mut rx) = tokio::io::duplex(64);
        let wire = framed(&[b"hello", b"world!"]);
        let mut frames = reader();
        let mut got = Vec::new();
        for byte in wire {
            use tokio::io::AsyncWriteExt;
            tx.write_all(&[byte]).await.unwrap();
            let r = tokio::time::timeout(
                std::time::Duration::from_millis(5),
                frames.next_frame(&mut rx),
            )
            .await;
            if let Ok(Ok(Some(f))) = r {
                got.push(f.to_vec());
            }
        }
        assert_eq!(got, vec![b"hello".to_vec(), b"world!".to_vec()]);
    }

    #[tokio::test]
    async fn buffer_stays_bounded_over_many_frames() {
        let messages: Vec<Vec<u8>> = (0..1000u16).map(|i| i.to_be_bytes().repeat(50)).collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let mut src = Chunked {
            data: framed(&refs),
            pos: 0,
            step: 333,
        };
        let mut frames = reader();
        let mut n = 0;
        while let Some(f) = frames.next_frame(&mut src).await.unwrap() {
            assert_eq!(f, messages[n].as_slice());
            n += 1;
            assert!(frames.buf.capacity() <= 2 * (READ_CHUNK + 2 + 65_535));
        }
        assert_eq!(n, 1000);
    }
}
