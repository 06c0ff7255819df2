//! Prometheus metrics: one [`Metrics`] value per proxy, owned (no global statics).
//!
//! Hot-path counters are resolved to concrete handles once (on first use per
//! label set, so the exposition only lists label sets that occurred), so
//! recording a query is an atomic add, not a label lookup with string hashing.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{
    exponential_buckets, Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Transport a query arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    const ALL: [Proto; 2] = [Proto::Udp, Proto::Tcp];

    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

/// Why a packet got no answer or an error answer before reaching the pipeline proper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not even a readable header: nothing to answer.
    Unreadable,
    /// QR=1: a response sent to us.
    Response,
    /// Answered FORMERR.
    Malformed,
    /// Answered REFUSED by the ACL.
    Refused,
    /// Answered fast because too much was in flight.
    Overload,
    /// TCP connection limit reached.
    TcpLimit,
}

impl Dropped {
    fn as_str(self) -> &'static str {
        match self {
            Dropped::Unreadable => "unreadable",
            Dropped::Response => "response",
            Dropped::Malformed => "malformed",
            Dropped::Refused => "acl_refused",
            Dropped::Overload => "overload",
            Dropped::TcpLimit => "tcp_limit",
        }
    }
}

/// Query types with their own label; the rest share "other".
const QTYPES: [(u16, &str); 14] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (43, "DS"),
    (48, "DNSKEY"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (255, "ANY"),
];
/// Response codes with their own label; the rest share "other".
const RCODES: [(u16, &str); 7] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (16, "BADVERS"),
];
const QTYPE_SLOTS: usize = QTYPES.len() + 1;
const RCODE_SLOTS: usize = RCODES.len() + 1;

/// `queries_total` children by (proto, qtype slot, rcode slot), resolved on first use.
type QueryCounters = [[[OnceLock<IntCounter>; RCODE_SLOTS]; QTYPE_SLOTS]; 2];

/// The request metrics of one upstream ([`Metrics::upstream_requests`]).
#[derive(Clone)]
pub struct UpstreamRequests {
    requests: [IntCounter; 2],
    latency: Histogram,
}

impl UpstreamRequests {
    /// One request over `proto`, and its round trip when it was answered.
    pub fn record(&self, proto: Proto, elapsed: Option<Duration>) {
        self.requests[proto as usize].inc();
        if let Some(e) = elapsed {
            self.latency.observe(e.as_secs_f64());
        }
    }
}

/// Every metric the proxy exports.
pub struct Metrics {
    registry: Registry,
    queries: IntCounterVec,
    query_counters: Box<QueryCounters>,
    /// `query_duration_seconds` children by proto.
    latency: [Histogram; 2],
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
    pub cache_entries: IntGauge,
    pub cache_inserts: IntCounter,
    upstream_requests: IntCounterVec,
    upstream_errors: IntCounterVec,
    upstream_latency: HistogramVec,
    upstream_srtt: GaugeVec,
    upstream_up: IntGaugeVec,
    upstream_circuit_opens: IntCounterVec,
    /// Queries that joined an identical exchange already in flight.
    pub upstream_coalesced: IntCounter,
    /// Queries shed because every upstream was at its in-flight limit.
    pub upstream_shed: IntCounter,
    /// Expired answers served because no upstream could answer (RFC 8767).
    pub cache_stale: IntCounter,
    /// Background refreshes of popular entries near expiry.
    pub cache_prefetches: IntCounter,
    dropped: IntCounterVec,
    pub inflight: IntGauge,
    pub tcp_connections: IntGauge,
    /// UDP answers the kernel refused to send (EAGAIN is retried, not counted).
    pub udp_send_errors: IntCounter,
    /// Plugin metrics live here so one scrape shows everything.
    pub plugin_calls: IntCounterVec,
    pub plugin_verdicts: IntCounterVec,
    pub plugin_failures: IntCounterVec,
    pub plugin_duration: HistogramVec,
    pub plugin_instances: IntGaugeVec,
    /// On-query verdict memo lookups, `result` = hit or miss.
    pub plugin_memo: IntCounterVec,
    pub reloads: IntCounterVec,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    start: f64,
) -> HistogramVec {
    let buckets = exponential_buckets(start, 2.0, 16).expect("valid buckets");
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new_custom(Some("wasmdns".into()), None).expect("valid registry");
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            r.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let latency = histogram_vec(
            &r,
            "query_duration_seconds",
            "Time from receiving a query to having its answer",
            &["proto"],
            0.000_01,
        );
        Metrics {
            queries: counter_vec(
                &r,
                "queries_total",
                "Queries answered, by transport, query type and response code",
                &["proto", "qtype", "rcode"],
            ),
            query_counters: Box::default(),
            latency: Proto::ALL.map(|p| latency.with_label_values(&[p.as_str()])),
            cache_hits: counter("cache_hits_total", "Queries answered from the cache"),
            cache_misses: counter("cache_misses_total", "Queries not found in the cache"),
            cache_entries: gauge("cache_entries", "Entries currently in the cache"),
            cache_inserts: counter(
                "cache_inserts_total",
                "Upstream answers stored in the cache",
            ),
            upstream_requests: counter_vec(
                &r,
                "upstream_requests_total",
                "Exchanges sent to an upstream",
                &["upstream", "proto"],
            ),
            upstream_errors: counter_vec(
                &r,
                "upstream_errors_total",
                "Failed upstream exchanges, by kind",
                &["upstream", "kind"],
            ),
            upstream_latency: histogram_vec(
                &r,
                "upstream_duration_seconds",
                "Upstream exchange time",
                &["upstream"],
                0.000_05,
            ),
            upstream_srtt: {
                let g = GaugeVec::new(
                    Opts::new(
                        "upstream_srtt_seconds",
                        "Smoothed round-trip time estimate per upstream",
                    ),
                    &["upstream"],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            upstream_up: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "upstream_up",
                        "1 while an upstream takes client queries, 0 while its circuit is open",
                    ),
                    &["upstream"],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            upstream_circuit_opens: counter_vec(
                &r,
                "upstream_circuit_opens_total",
                "Times an upstream was marked down after consecutive failures",
                &["upstream"],
            ),
            upstream_coalesced: counter(
                "upstream_coalesced_total",
                "Queries answered by sharing an identical in-flight upstream exchange",
            ),
            upstream_shed: counter(
                "upstream_shed_total",
                "Queries shed because every upstream was at its in-flight limit",
            ),
            cache_stale: counter(
                "cache_stale_total",
                "Expired answers served because no upstream could answer",
            ),
            cache_prefetches: counter(
                "cache_prefetches_total",
                "Background refreshes of popular cache entries near expiry",
            ),
            dropped: counter_vec(
                &r,
                "dropped_total",
                "Packets refused, malformed, shed or dropped, by reason",
                &["reason"],
            ),
            inflight: gauge("inflight_queries", "Cache misses waiting for an upstream"),
            tcp_connections: gauge("tcp_connections", "Open client TCP connections"),
            udp_send_errors: counter(
                "udp_send_errors_total",
                "UDP answers the kernel refused to send (not counting retried EAGAIN)",
            ),
            plugin_calls: counter_vec(
                &r,
                "plugin_calls_total",
                "Plugin hook calls",
                &["plugin", "hook"],
            ),
            plugin_verdicts: counter_vec(
                &r,
                "plugin_verdicts_total",
                "Plugin verdicts by kind, those reused from the verdict memo included",
                &["plugin", "verdict"],
            ),
            plugin_failures: counter_vec(
                &r,
                "plugin_failures_total",
                "Plugin traps, deadline and limit breaches",
                &["plugin", "kind"],
            ),
            plugin_duration: histogram_vec(
                &r,
                "plugin_call_duration_seconds",
                "Plugin hook call time, sampled (one call in 16 is timed; calls are counted exactly in plugin_calls_total)",
                &["plugin"],
                0.000_000_5,
            ),
            plugin_memo: counter_vec(
                &r,
                "plugin_verdict_memo_total",
                "Lookups of reusable on-query verdicts (WIT v0.2), by result",
                &["result"],
            ),
            plugin_instances: {
                let g = IntGaugeVec::new(
                    Opts::new("plugin_instances", "Warm plugin instances"),
                    &["plugin"],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            reloads: counter_vec(
                &r,
                "reloads_total",
                "Configuration reloads by result",
                &["result"],
            ),
            registry: r,
        }
    }

    /// Records one answered query: two atomic adds and a histogram observation
    /// once the label set has been seen.
    pub fn record_query(&self, proto: Proto, qtype: u16, rcode: u16, elapsed: Duration) {
        let (q, r) = (qtype_slot(qtype), rcode_slot(rcode));
        self.query_counters[proto as usize][q][r]
            .get_or_init(|| {
                let qtype = QTYPES.get(q).map_or("other", |t| t.1);
                let rcode = RCODES.get(r).map_or("other", |c| c.1);
                self.queries
                    .with_label_values(&[proto.as_str(), qtype, rcode])
            })
            .inc();
        self.latency[proto as usize].observe(elapsed.as_secs_f64());
    }

    pub fn record_dropped(&self, why: Dropped) {
        self.dropped.with_label_values(&[why.as_str()]).inc();
    }

    /// One upstream's request counters and latency histogram, resolved once:
    /// looking them up by label on every forwarded query cost ~480 instructions
    /// a miss (callgrind, `benches/miss_profile.sh`).
    pub fn upstream_requests(&self, upstream: &str) -> UpstreamRequests {
        UpstreamRequests {
            requests: Proto::ALL.map(|p| {
                self.upstream_requests
                    .with_label_values(&[upstream, p.as_str()])
            }),
            latency: self.upstream_latency.with_label_values(&[upstream]),
        }
    }

    /// `kind`: timeout, io, garbage, mismatch, truncated, servfail, refused.
    pub fn record_upstream_error(&self, upstream: &str, kind: &'static str) {
        self.upstream_errors
            .with_label_values(&[upstream, kind])
            .inc();
    }

    /// Health state and SRTT estimate of an upstream.
    pub fn set_upstream_health(&self, upstream: &str, up: bool, srtt: Duration) {
        self.upstream_up
            .with_label_values(&[upstream])
            .set(i64::from(up));
        self.upstream_srtt
            .with_label_values(&[upstream])
            .set(srtt.as_secs_f64());
    }

    pub fn record_circuit_open(&self, upstream: &str) {
        self.upstream_circuit_opens
            .with_label_values(&[upstream])
            .inc();
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding never fails");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Index of `qtype` in `QTYPES`, or `QTYPES.len()` ("other").
fn qtype_slot(qtype: u16) -> usize {
    QTYPES
        .iter()
        .position(|t| t.0 == qtype)
        .unwrap_or(QTYPES.len())
}

/// Index of `rcode` in `RCODES`, or `RCODES.len()` ("other").
fn rcode_slot(rcode: u16) -> usize {
    RCODES
        .iter()
        .position(|c| c.0 == rcode)
        .unwrap_or(RCODES.len())
}

/// A fixed label per common query type keeps the label space bounded.
pub fn qtype_label(qtype: u16) -> &'static str {
    QTYPES.get(qtype_slot(qtype)).map_or("other", |t| t.1)
}

pub fn rcode_label(rcode: u16) -> &'static str {
    RCODES.get(rcode_slot(rcode)).map_or("other", |c| c.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_counters_land_on_their_labels() {
        let m = Metrics::new();
        m.record_query(Proto::Udp, 1, 0, Duration::from_micros(5));
        m.record_query(Proto::Udp, 1, 0, Duration::from_micros(5));
        m.record_query(Proto::Tcp, 65, 3, Duration::from_micros(5));
        m.record_query(Proto::Udp, 999, 23, Duration::from_millis(2));
        let text = m.render();
        for line in [
            r#"wasmdns_queries_total{proto="udp",qtype="A",rcode="NOERROR"} 2"#,
            r#"wasmdns_queries_total{proto="tcp",qtype="HTTPS",rcode="NXDOMAIN"} 1"#,
            r#"wasmdns_queries_total{proto="udp",qtype="other",rcode="other"} 1"#,
            r#"wasmdns_query_duration_seconds_count{proto="udp"} 3"#,
            r#"wasmdns_query_duration_seconds_count{proto="tcp"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(
            !text.contains(r#"qtype="AAAA""#),
            "unseen label sets are not listed"
        );
    }

    #[test]
    fn labels_of_known_and_unknown_codes() {
        assert_eq!(qtype_label(28), "AAAA");
        assert_eq!(qtype_label(0), "other");
        assert_eq!(rcode_label(16), "BADVERS");
        assert_eq!(rcode_label(4095), "other");
    }
}
