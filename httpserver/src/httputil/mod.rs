//! HTTP utilities shared by the server and the client: headers, the request
//! object, query and form arguments, multipart bodies, cookies, dates and
//! URLs (Tornado's `tornado.httputil`).

mod args;
mod cookie;
mod date;
mod form;
mod headers;
mod multipart;
mod request;

pub use args::{
    parse_body_arguments, parse_body_arguments_with, parse_qs_into, parse_qsl, url_concat,
    url_escape_into,
};
pub use cookie::parse_cookie;
pub use date::{DateCache, HTTP_DATE_LEN, format_timestamp, parse_http_date};
pub use form::{
    Arguments, Files, HttpFile, MAX_ARGUMENTS, MAX_BOUNDARY_LEN, MAX_MULTIPART_PARTS,
    MAX_PART_HEADER_SIZE, ParseBodyConfig, percent_decode, url_unescape,
};
pub use headers::HttpHeaders;
pub use multipart::parse_header;
pub use request::{COMPACT_BODY_MAX, HttpServerRequest, split_host_and_port, validate_host};

pub(crate) use headers::{
    HeadersView, MAX_SHARED_LEN, bytes_to_str, has_byte_below, is_field_value, is_token,
};
pub(crate) use request::{request_host, validate_host_bytes};
