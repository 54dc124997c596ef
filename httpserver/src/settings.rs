//! [`HttpServerSettings`]: the options of an [`HttpServer`](crate::HttpServer), each
//! default a documented constant.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::http1connection::Http1ConnectionParameters;

/// Default [`HttpServerSettings::idle_connection_timeout`]: an hour, as Tornado's.
///
/// Idle deadlines are checked by one sweep per thread every quarter of the timeout
/// (between 10 ms and 1 s), so an idle connection closes at most that late and owns no
/// timer of its own.
pub const DEFAULT_IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// Options of an [`HttpServer`](crate::HttpServer) (Tornado's `HTTPServer` keyword arguments). `Default`
/// gives the documented defaults.
///
/// ```
/// use std::time::Duration;
/// use tornado_httpserver::HttpServerSettings;
///
/// let mut settings = HttpServerSettings::default();
/// settings.xheaders = true;
/// settings.params.max_body_size = 1024 * 1024;
/// settings.idle_connection_timeout = Some(Duration::from_secs(60));
/// ```
#[derive(Clone)]
pub struct HttpServerSettings {
    /// Protocol limits and options: `no_keep_alive`, `chunk_size`, `max_header_size`,
    /// `max_body_size`, `header_timeout`, `body_timeout`, `decompress` (Tornado's
    /// `decompress_request`).
    pub params: Http1ConnectionParameters,
    /// Trust `X-Real-Ip` / `X-Forwarded-For` and `X-Scheme` / `X-Forwarded-Proto` (run
    /// behind a proxy such as nginx). Read afresh for every request.
    pub xheaders: bool,
    /// Proxies to skip from the right of `X-Forwarded-For` when looking for the client.
    pub trusted_downstream: Vec<IpAddr>,
    /// Close a keep-alive connection that sends nothing for this long
    /// ([`DEFAULT_IDLE_CONNECTION_TIMEOUT`]); `None` never.
    pub idle_connection_timeout: Option<Duration>,
    /// Each stream's read-buffer limit (`None`: the stream's default, 100 MiB).
    pub max_buffer_size: Option<usize>,
    /// Serve HTTPS with this configuration (Tornado's `ssl_options`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Log a line per request to the `tornado.access` target (on by default). A
    /// web `Application` turns it off and logs requests itself (`log_request`).
    pub access_log: bool,
}

impl Default for HttpServerSettings {
    fn default() -> Self {
        HttpServerSettings {
            params: Http1ConnectionParameters::default(),
            xheaders: false,
            trusted_downstream: Vec::new(),
            idle_connection_timeout: Some(DEFAULT_IDLE_CONNECTION_TIMEOUT),
            max_buffer_size: None,
            tls: None,
            access_log: true,
        }
    }
}

impl fmt::Debug for HttpServerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServerSettings")
            .field("params", &self.params)
            .field("xheaders", &self.xheaders)
            .field("trusted_downstream", &self.trusted_downstream)
            .field("idle_connection_timeout", &self.idle_connection_timeout)
            .field("max_buffer_size", &self.max_buffer_size)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}
