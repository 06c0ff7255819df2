//! TCP listener (RFC 7766): 2-byte framing, pipelined queries answered as they complete, idle timeout, connection limit.
