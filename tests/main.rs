//! Integration tests: the real proxy on 127.0.0.1:0 against in-process upstreams.
//!
//! One test binary (`cargo test --test integration`): `support/` holds the fake
//! upstream, the byte-exact client and the proxy harness; `suite/` the tests, one
//! file per area. Every test is bounded in time (answers within 3 s, none much over 5 s).

mod suite;
mod support;
