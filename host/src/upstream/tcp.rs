//! DNS over TCP to an upstream (RFC 7766 framing), used when a UDP answer came back
//! truncated: one fresh connection per exchange for now; reuse and pipelining come
//! with issue 5.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::AttemptError;
use super::wire::{self, Outgoing, HEADER};

/// Sends `query` under a fresh random ID and reads its answer. Unbounded in time: the
/// caller wraps it in the query's deadline.
pub(crate) async fn exchange(
    peer: SocketAddr,
    query: &mut Outgoing,
) -> Result<Vec<u8>, AttemptError> {
    let id = rand::random::<u16>();
    query.set_id(id);
    let mut stream = TcpStream::connect(peer).await.map_err(AttemptError::io)?;
    // One write of length + message: no small segment held back by Nagle.
    stream.set_nodelay(true).map_err(AttemptError::io)?;
    stream
        .write_all(query.framed())
        .await
        .map_err(AttemptError::io)?;
    let len = usize::from(stream.read_u16().await.map_err(AttemptError::io)?);
    if len < HEADER {
        return Err(bad_answer(wire::Reject::Garbage));
    }
    let mut answer = vec![0u8; len];
    stream
        .read_exact(&mut answer)
        .await
        .map_err(AttemptError::io)?;
    // The connection carried nothing but our query, so anything else is not noise to
    // skip but a broken or lying upstream.
    wire::check(&answer, id, query.opcode(), query.question()).map_err(bad_answer)?;
    Ok(answer)
}

fn bad_answer(why: wire::Reject) -> AttemptError {
    AttemptError::Failed {
        kind: why.label(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            "answer over TCP does not match the query",
        ),
    }
}
