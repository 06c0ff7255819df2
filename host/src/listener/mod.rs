//! Listeners move bytes: they read packets, call the [`Pipeline`](crate::pipeline::Pipeline)
//! and write its answers. UDP (`udp.rs`) and TCP with RFC 7766 framing (`tcp.rs`).

pub mod tcp;
pub mod udp;
