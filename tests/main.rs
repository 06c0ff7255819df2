//! Integration tests: the real proxy on 127.0.0.1:0 against in-process upstreams.
