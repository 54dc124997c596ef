//! [`RequestContext`]: where a request came from (with `xheaders` applied), and the
//! access log line written when it is over.

use std::net::IpAddr;
use std::time::Instant;

use super::Conn;
use crate::httputil::HttpHeaders;

/// Where a request came from, after `xheaders` were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestContext {
    /// The client's IP: the peer's, or with `xheaders` the one the proxy reported.
    /// `None` on a Unix socket.
    pub(crate) remote_ip: Option<IpAddr>,
    /// `"http"` or `"https"` (TLS, or with `xheaders` the scheme the proxy reported).
    pub(crate) protocol: &'static str,
    /// When the request's first byte arrived, by the loop's clock.
    pub(crate) start: Instant,
}

impl Conn {
    /// The client address and scheme for this request, with `xheaders` applied (read
    /// afresh for every request).
    pub(crate) fn request_context(&self, headers: &HttpHeaders) -> RequestContext {
        let settings = &self.shared.settings;
        let mut remote_ip = self.peer.map(|a| a.ip());
        let mut protocol = if self.tls { "https" } else { "http" };
        if settings.xheaders {
            let forwarded = headers.get_joined("X-Forwarded-For");
            let mut candidate = None;
            if let Some(list) = forwarded.as_deref() {
                for part in list.rsplit(',') {
                    let part = part.trim();
                    candidate = Some(part);
                    let trusted = part
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| settings.trusted_downstream.contains(&ip));
                    if !trusted {
                        break;
                    }
                }
            }
            // Several lines of one header are one list (Tornado joins them): several
            // X-Real-Ip lines are no address, and of several scheme lines the last (the
            // one the nearest proxy appended) counts, not a client's own first line.
            let real_ip = headers.get_joined("X-Real-Ip");
            let chosen = real_ip.as_deref().map(str::trim).or(candidate);
            if let Some(ip) = chosen.and_then(|s| s.parse::<IpAddr>().ok()) {
                remote_ip = Some(ip);
            }
            let scheme = headers
                .get_joined("X-Scheme")
                .or_else(|| headers.get_joined("X-Forwarded-Proto"));
            if let Some(s) = scheme.as_deref() {
                match s.rsplit(',').next().map(str::trim) {
                    Some("http") => protocol = "http",
                    Some("https") => protocol = "https",
                    _ => {}
                }
            }
        }
        RequestContext {
            remote_ip,
            protocol,
            start: self.request_start.get(),
        }
    }

    /// Tornado's access log line for the request just answered: info for 1xx to 3xx,
    /// warning for 4xx, error for 5xx (target `tornado.access`). `summary` is
    /// `METHOD target`, made only when info lines are on.
    /// Whether this server logs its requests (`HttpServerSettings::access_log`).
    pub(crate) fn logs_access(&self) -> bool {
        self.shared.settings.access_log
    }

    pub(crate) fn access_log(
        &self,
        summary: Option<&str>,
        start: Instant,
        remote_ip: Option<IpAddr>,
    ) {
        if !self.shared.settings.access_log {
            return;
        }
        let status = self.proto.borrow().status();
        let Some(summary) = summary else {
            // Info is off: errors are still worth a line, without the target.
            if status >= 500 && log::log_enabled!(target: "tornado.access", log::Level::Error) {
                log::error!(target: "tornado.access", "{status} ({remote_ip:?})");
            }
            return;
        };
        let level = match status {
            0..=399 => log::Level::Info,
            400..=499 => log::Level::Warn,
            _ => log::Level::Error,
        };
        if !log::log_enabled!(target: "tornado.access", level) {
            return;
        }
        let elapsed = Instant::now().saturating_duration_since(start);
        let ip = remote_ip.map_or_else(|| "unix".to_string(), |ip| ip.to_string());
        log::log!(
            target: "tornado.access",
            level,
            "{status} {summary} ({ip}) {:.2}ms",
            elapsed.as_secs_f64() * 1000.0
        );
    }
}
