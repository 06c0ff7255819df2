//! Logging set-up (tracing, text or JSON) and the rate limiter for security events.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Target of security events (ACL refusals, malformed packets), see [`RateLimited`].
pub const SECURITY_TARGET: &str = "security";

/// Installs the global tracing subscriber described by `config`, writing to stderr.
///
/// `RUST_LOG`, when set and not empty, replaces `config.level`.
pub fn init(config: &LogConfig) -> Result<(), String> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(&config.level, rust_log.as_deref())?;
    let ansi = std::io::stderr().is_terminal();
    tracing::subscriber::set_global_default(subscriber(
        config.format,
        filter,
        std::io::stderr,
        ansi,
    ))
    .map_err(|e| format!("cannot install the logger: {e}"))
}

/// The filter from `RUST_LOG` or else `level`; security events always pass at warn.
///
/// Security events are logged at warn and already rate-limited, so an operator who
/// quiets the proxy with `level = "error"` still sees them, unless the filter
/// names the `security` target itself.
fn filter(level: &str, rust_log: Option<&str>) -> Result<EnvFilter, String> {
    let (source, directives) = match rust_log {
        Some(v) if !v.trim().is_empty() => ("RUST_LOG", v),
        _ => ("log.level", level),
    };
    let filter = EnvFilter::builder()
        .parse(directives)
        .map_err(|e| format!("{source}: invalid log filter {directives:?}: {e}"))?;
    let names_security = directives
        .split(',')
        .any(|d| d.trim().starts_with(SECURITY_TARGET));
    Ok(if names_security {
        filter
    } else {
        filter.add_directive(
            format!("{SECURITY_TARGET}=warn")
                .parse()
                .map_err(|e| format!("security directive: {e}"))?,
        )
    })
}

fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        // Flattened: fields sit next to "message", where log collectors look for them.
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
    }
}

/// Allows at most `per_second` events per wall-clock second, lock-free.
///
/// Security events come from packets an attacker controls; without a limit a
/// flood of garbage would become a flood of log lines.
pub struct RateLimited {
    per_second: u64,
    /// Upper 32 bits: the current second; lower 32 bits: events in it.
    state: AtomicU64,
}

impl RateLimited {
    pub fn new(per_second: u32) -> RateLimited {
        RateLimited {
            per_second: u64::from(per_second),
            state: AtomicU64::new(0),
        }
    }

    pub fn allow(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() & 0xffff_ffff)
            .unwrap_or(0);
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let (sec, count) = (cur >> 32, cur & 0xffff_ffff);
            let next = if sec == now {
                if count >= self.per_second {
                    return false;
                }
                cur + 1
            } else {
                (now << 32) | 1
            };
            match self
                .state
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return self.per_second > 0,
                Err(actual) => cur = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn limits_events_per_second() {
        let r = RateLimited::new(3);
        let allowed = (0..100).filter(|_| r.allow()).count();
        // A second boundary may fall inside the loop: at most two windows' worth.
        assert!((3..=6).contains(&allowed), "allowed {allowed}");
    }

    /// Captures what a subscriber writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Sink {
        type Writer = Sink;
        fn make_writer(&'w self) -> Sink {
            self.clone()
        }
    }

    /// Emits one event per level on the proxy's target and one security event.
    fn capture(format: LogFormat, level: &str) -> String {
        let sink = Sink::default();
        let f = filter(level, None).unwrap();
        tracing::subscriber::with_default(subscriber(format, f, sink.clone(), false), || {
            tracing::debug!(target: "wasmdns::pipeline", "debug-event");
            tracing::info!(target: "wasmdns::app", "info-event");
            tracing::error!(target: "wasmdns::app", code = 7, "error-event");
            tracing::warn!(target: SECURITY_TARGET, client = "192.0.2.1:53", "security-event");
        });
        let out = sink.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn level_filters_events() {
        let out = capture(LogFormat::Text, "info");
        assert!(
            out.contains("info-event") && out.contains("error-event"),
            "{out}"
        );
        assert!(!out.contains("debug-event"), "{out}");
        let out = capture(LogFormat::Text, "info,wasmdns::pipeline=debug");
        assert!(out.contains("debug-event"), "{out}");
    }

    #[test]
    fn security_events_pass_a_quiet_level() {
        let out = capture(LogFormat::Text, "error");
        assert!(out.contains("security-event"), "{out}");
        assert!(!out.contains("info-event"), "{out}");
        // Naming the target hands control back to the operator.
        let out = capture(LogFormat::Text, "info,security=error");
        assert!(!out.contains("security-event"), "{out}");
        assert!(out.contains("info-event"), "{out}");
    }

    #[test]
    fn json_is_one_flat_object_per_line() {
        let out = capture(LogFormat::Json, "info");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[1]["message"], "error-event");
        assert_eq!(lines[1]["code"], 7);
        assert_eq!(lines[1]["level"], "ERROR");
        assert_eq!(lines[2]["target"], "security");
        assert_eq!(lines[2]["client"], "192.0.2.1:53");
    }

    #[test]
    fn bad_filters_name_their_source() {
        let e = filter("info,wasmdns=[", None).unwrap_err();
        assert!(e.starts_with("log.level: invalid log filter"), "{e}");
        let e = filter("info", Some("wasmdns=[")).unwrap_err();
        assert!(e.starts_with("RUST_LOG:"), "{e}");
    }

    #[test]
    fn rust_log_overrides_level_unless_empty() {
        let f = filter("info", Some("warn")).unwrap().to_string();
        assert!(f.contains("warn") && !f.contains("info"), "{f}");
        let f = filter("debug", Some("  ")).unwrap().to_string();
        assert!(f.contains("debug"), "{f}");
    }

    #[test]
    fn zero_disables() {
        let r = RateLimited::new(0);
        assert!(!(0..10).any(|_| r.allow()));
    }
}
