//! tcpserver (being written).
