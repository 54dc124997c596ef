//! # tornado-iostream (being written)
//!
//! `IoStream`, TLS, TCP server and client, netutil.
#![forbid(unsafe_code)]

pub mod netutil;
pub mod tcpclient;
pub mod tcpserver;
