//! # tornado-web
//!
//! The web framework of Tornado for Rust: Tornado's `tornado.web`, on the
//! HTTP/1.1 server of `tornado-httpserver`.
//!
//! It will hold an `Application` of routes, which a server hosts, and a
//! `RequestHandler` trait whose value is made for each request by its
//! route's factory, as Tornado makes one handler instance per request.
//! Today it holds the first piece, [`routing`]: regex routes anchored as
//! Tornado anchors them, whose groups become the handler's path arguments,
//! routes per host with a default host, and `reverse_url`.
//!
//! ```
//! use tornado_web::routing::{RouteRequest, Router, UrlSpec};
//!
//! # fn main() -> Result<(), tornado_web::routing::RouteError> {
//! // A target can be anything; the Application will store handler factories.
//! let router = Router::new([
//!     UrlSpec::new("/", "main")?,
//!     UrlSpec::new(r"/story/([0-9]+)", "story")?.named("story"),
//! ]);
//!
//! let found = router.find(&RouteRequest::new("localhost:8888", "/story/42")).unwrap();
//! assert_eq!(*found.target(), "story");
//! assert_eq!(found.path_args.arg(0), Some(&b"42"[..]));
//!
//! // "/story/42/" does not match: patterns must match the whole path.
//! assert!(router.find(&RouteRequest::new("localhost", "/story/42/")).is_none());
//!
//! assert_eq!(router.reverse_url("story", &[&7])?, "/story/7");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod routing;

pub use routing::{
    HostPattern, PathArgs, RouteError, RouteMatch, RouteRequest, Router, RuleSet, UrlPattern,
    UrlSpec,
};
