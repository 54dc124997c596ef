//! tcpclient (being written).
