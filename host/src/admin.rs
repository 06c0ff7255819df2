//! Admin HTTP endpoint: `/metrics`, `/health`, `/ready`, `/plugins`, `POST /reload`.
//!
//! HTTP/1.1 only (hyper), GET and HEAD (POST for `/reload` only), small bounded
//! requests (8 KiB of headers, read within a timeout; bodies are never read), a
//! bounded number of connections. It keeps serving while the proxy drains, so
//! `/ready` can say 503 to load balancers, and stops when told to.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::pipeline::Pipeline;
use crate::reload::{ReloadError, Reloader};

/// Concurrent admin connections; scrapers and probes need a handful.
const MAX_CONNECTIONS: usize = 64;
/// Largest request head hyper buffers (its minimum).
const MAX_REQUEST_HEAD: usize = 8192;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long open admin connections get to finish when the endpoint stops.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const JSON: &str = "application/json";

/// A JSON answer: status code and body.
pub struct JsonReply {
    pub code: StatusCode,
    pub body: String,
}

/// The outcome of `POST /reload`, resolved later; `None` = reloading not offered.
pub type ReloadFuture = Pin<Box<dyn Future<Output = Option<JsonReply>> + Send>>;

/// What the endpoint reports; implemented by [`ProxyStatus`], and by fakes in tests.
pub trait Status: Send + Sync + 'static {
    /// Prometheus text exposition.
    fn metrics_text(&self) -> String;
    /// Listeners up and not shutting down.
    fn ready(&self) -> bool;
    /// `GET /plugins` body; `None` answers 404.
    fn plugins_json(&self) -> Option<String> {
        None
    }
    /// Runs a reload for `POST /reload`.
    fn reload(self: Arc<Self>) -> ReloadFuture {
        Box::pin(async { None })
    }
}

/// The running proxy's status: its pipeline, and whether it is draining.
pub struct ProxyStatus {
    pub pipeline: Arc<Pipeline>,
    /// The proxy's shutdown token: once cancelled, `/ready` answers 503.
    pub draining: CancellationToken,
    /// `None`: `POST /reload` answers 404.
    pub reloader: Option<Arc<Reloader>>,
}

impl Status for ProxyStatus {
    fn metrics_text(&self) -> String {
        let metrics = self.pipeline.metrics();
        if let Some(cache) = self.pipeline.cache() {
            // Counting sweeps out dead entries: done when someone looks, not per query.
            let entries = i64::try_from(cache.entry_count()).unwrap_or(i64::MAX);
            metrics.cache_entries.set(entries);
        }
        metrics.render()
    }

    fn ready(&self) -> bool {
        !self.draining.is_cancelled()
    }

    fn plugins_json(&self) -> Option<String> {
        let chain = self.pipeline.chain();
        let body = serde_json::json!({
            "generation": chain.generation(),
            "loaded_at": chain.loaded_at(),
            "plugins": chain.plugins(),
        });
        Some(body.to_string() + "\n")
    }

    fn reload(self: Arc<Self>) -> ReloadFuture {
        Box::pin(async move {
            let reloader = self.reloader.as_ref()?;
            Some(reload_reply(reloader.reload().await, reloader.generation()))
        })
    }
}

/// `200 {"result":"ok",...}`, or the error with a code saying whose fault it is:
/// 409 nothing to reload, 422 the new configuration or a plugin is bad, 500 else.
fn reload_reply(
    result: Result<crate::reload::ReloadOutcome, ReloadError>,
    generation: u64,
) -> JsonReply {
    let (code, body) = match result {
        Ok(o) => (
            StatusCode::OK,
            serde_json::json!({
                "result": "ok",
                "generation": o.generation,
                "restart_required": o.restart_required,
                "applied": o.applied,
                "duration_ms": o.duration_ms,
            }),
        ),
        Err(e) => {
            let code = match e {
                ReloadError::NoSource => StatusCode::CONFLICT,
                ReloadError::Config(_) | ReloadError::Plugin(_) => StatusCode::UNPROCESSABLE_ENTITY,
                ReloadError::Upstream(_) | ReloadError::Internal(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            let body = serde_json::json!({
                "result": "error",
                "error": e.to_string(),
                "generation": generation,
            });
            (code, body)
        }
    };
    JsonReply {
        code,
        body: body.to_string() + "\n",
    }
}

/// A bound admin endpoint, not yet serving.
pub struct AdminServer {
    listener: TcpListener,
    addr: SocketAddr,
}

impl AdminServer {
    pub async fn bind(addr: SocketAddr) -> io::Result<AdminServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(AdminServer { listener, addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `stop` is cancelled, then gives open connections a moment to finish.
    pub async fn serve(self, status: Arc<dyn Status>, stop: CancellationToken) {
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let tasks = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => break,
                a = self.listener.accept() => a,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::debug!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                continue; // dropping the stream closes it
            };
            let status = Arc::clone(&status);
            let stop = stop.clone();
            tasks.spawn(async move {
                serve_connection(stream, status, stop).await;
                drop(permit);
            });
        }
        tasks.close();
        let _ = tokio::time::timeout(CLOSE_GRACE, tasks.wait()).await;
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    status: Arc<dyn Status>,
    stop: CancellationToken,
) {
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let reload = (req.method() == Method::POST && req.uri().path() == "/reload")
            .then(|| Arc::clone(&status).reload());
        let response = match reload {
            Some(_) => None,
            None => Some(route(req.method(), req.uri().path(), &*status)),
        };
        async move {
            Ok::<_, Infallible>(match (response, reload) {
                (Some(r), _) => r,
                (None, Some(reload)) => match reload.await {
                    Some(reply) => json(reply),
                    None => text(StatusCode::NOT_FOUND, "not found\n"),
                },
                (None, None) => text(StatusCode::INTERNAL_SERVER_ERROR, "no route\n"),
            })
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(CLOSE_GRACE, conn.as_mut()).await {
                Ok(r) => r,
                Err(_) => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "admin connection failed");
    }
}

/// The whole API: a pure function of the request line and the status.
/// `POST /reload` is served by the caller (it is asynchronous).
pub fn route(method: &Method, path: &str, status: &dyn Status) -> Response<Full<Bytes>> {
    if !matches!(
        path,
        "/metrics" | "/health" | "/ready" | "/plugins" | "/reload"
    ) {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if path == "/reload" {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match path {
        "/metrics" => {
            let mut r = Response::new(Full::new(Bytes::from(status.metrics_text())));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT));
            r
        }
        "/plugins" => match status.plugins_json() {
            Some(body) => json(JsonReply {
                code: StatusCode::OK,
                body,
            }),
            None => text(StatusCode::NOT_FOUND, "not found\n"),
        },
        "/ready" if status.ready() => text(StatusCode::OK, "ready\n"),
        "/ready" => text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
        _ => text(StatusCode::OK, "ok\n"),
    }
}

fn json(reply: JsonReply) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(reply.body)));
    *r.status_mut() = reply.code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

fn text(code: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = code;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Fake {
        ready: AtomicBool,
    }

    impl Status for Fake {
        fn metrics_text(&self) -> String {
            "wasmdns_up 1\n".to_owned()
        }
        fn ready(&self) -> bool {
            self.ready.load(Ordering::SeqCst)
        }
    }

    fn fake(ready: bool) -> Arc<Fake> {
        Arc::new(Fake {
            ready: AtomicBool::new(ready),
        })
    }

    #[test]
    fn routes_answer_by_path_and_method() {
        let up = fake(true);
        let r = route(&Method::GET, "/metrics", &*up);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], PROMETHEUS_TEXT);
        assert_eq!(
            route(&Method::GET, "/health", &*up).status(),
            StatusCode::OK
        );
        assert_eq!(
            route(&Method::HEAD, "/health", &*up).status(),
            StatusCode::OK
        );
        assert_eq!(route(&Method::GET, "/ready", &*up).status(), StatusCode::OK);
        let r = route(&Method::POST, "/metrics", &*up);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "GET, HEAD");
        for path in ["/", "/metrics/", "/Health", "/readyz", ""] {
            assert_eq!(
                route(&Method::GET, path, &*up).status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        // Reload and plugin listing are offered only by a status that has them.
        let r = route(&Method::GET, "/reload", &*up);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "POST");
        assert_eq!(
            route(&Method::GET, "/plugins", &*up).status(),
            StatusCode::NOT_FOUND
        );
        let draining = fake(false);
        assert_eq!(
            route(&Method::GET, "/ready", &*draining).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            route(&Method::GET, "/health", &*draining).status(),
            StatusCode::OK
        );
    }

    async fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got))
            .await
            .expect("admin answers in time")
            .unwrap();
        String::from_utf8_lossy(&got).into_owned()
    }

    #[tokio::test]
    async fn serves_http_and_stops_when_told() {
        let server = AdminServer::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = server.local_addr();
        let status = fake(true);
        let stop = CancellationToken::new();
        let serving = tokio::spawn(server.serve(status.clone(), stop.clone()));

        let r = get(
            addr,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("version=0.0.4"), "{r}");
        assert!(r.ends_with("wasmdns_up 1\n"), "{r}");

        status.ready.store(false, Ordering::SeqCst);
        let r = get(
            addr,
            b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 503"), "{r}");

        let huge = format!("GET /health HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        let r = get(addr, huge.as_bytes()).await;
        assert!(!r.contains("200 OK"), "oversized request head refused: {r}");

        stop.cancel();
        tokio::time::timeout(Duration::from_secs(3), serving)
            .await
            .expect("serve returns after stop")
            .unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
