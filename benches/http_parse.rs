//! The HTTP/1.1 hot path without sockets: parsing request heads (one, and
//! sixteen pipelined; copying the head, and viewing it in place as the
//! server does) and encoding a small response with `Date` and `Server`
//! headers into a reused buffer.

use std::hint::black_box;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tornado::httpserver::http::{StatusCode, Version};
use tornado::httpserver::http1connection::{
    Http1ConnectionParameters, Parsed, ResponseContext, encode_response_head, parse_request_head,
    parse_request_layout,
};
use tornado::httputil::{DateCache, HttpHeaders};

/// What `wrk -H 'Host: localhost'` sends to the plaintext benchmark.
const WRK_REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: localhost:8888\r\n\
Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n\
Connection: keep-alive\r\n\r\n";

fn parse_one(c: &mut Criterion) {
    let params = Http1ConnectionParameters::default();
    let mut group = c.benchmark_group("http_parse");
    group.throughput(Throughput::Bytes(WRK_REQUEST.len() as u64));
    group.bench_function("wrk_request_head", |b| {
        b.iter(
            || match parse_request_head(black_box(WRK_REQUEST), &params) {
                Ok(Parsed::Complete(head)) => head.head_len,
                _ => 0,
            },
        )
    });
    // What the server does: parse in the borrowed read buffer, then attach
    // the head's bytes split off it (here a static `Bytes`, whose slices
    // cost nothing, standing in for the read buffer's split).
    let raw = Bytes::from_static(WRK_REQUEST);
    group.bench_function("wrk_request_layout_attach", |b| {
        b.iter(|| match parse_request_layout(black_box(&raw), &params) {
            Ok(Parsed::Complete(layout)) => {
                let len = layout.head_len;
                layout.attach(raw.slice(..len)).head_len
            }
            _ => 0,
        })
    });
    group.finish();
}

fn parse_pipelined(c: &mut Criterion) {
    let params = Http1ConnectionParameters::default();
    let buf = WRK_REQUEST.repeat(16);
    let mut group = c.benchmark_group("http_parse");
    group.throughput(Throughput::Elements(16));
    group.bench_function("pipelined_16", |b| {
        b.iter(|| {
            let mut pos = 0;
            let mut count = 0;
            while let Ok(Parsed::Complete(head)) =
                parse_request_head(black_box(&buf[pos..]), &params)
            {
                pos += head.head_len;
                count += 1;
            }
            assert_eq!(count, 16);
            count
        })
    });
    let raw = Bytes::from(WRK_REQUEST.repeat(16));
    group.bench_function("pipelined_16_layout_attach", |b| {
        b.iter(|| {
            let mut pos = 0;
            let mut count = 0;
            while let Ok(Parsed::Complete(layout)) =
                parse_request_layout(black_box(&raw[pos..]), &params)
            {
                let len = layout.head_len;
                black_box(layout.attach(raw.slice(pos..pos + len)));
                pos += len;
                count += 1;
            }
            assert_eq!(count, 16);
            count
        })
    });
    group.finish();
}

fn encode_hello(c: &mut Criterion) {
    let ctx = ResponseContext {
        head_request: false,
        version: Version::HTTP_11,
        keep_alive: true,
    };
    let mut headers = HttpHeaders::new();
    headers.set("Content-Type", "text/plain");
    headers.set("Content-Length", "13");
    let mut dates = DateCache::new();
    let mut out = BytesMut::with_capacity(4096);
    // The connection reads the clock once per loop iteration, not per
    // response.
    let now = SystemTime::now();
    c.bench_function("http_encode/hello_world", |b| {
        b.iter(|| {
            out.clear();
            let date = dates.get(now);
            if let Ok(mut body) =
                encode_response_head(&mut out, &ctx, StatusCode::OK, &headers, date)
            {
                let _ = body.write(b"Hello, world!", &mut out);
                let _ = body.finish(&mut out);
            }
            black_box(out.len())
        })
    });
}

criterion_group!(benches, parse_one, parse_pipelined, encode_hello);
criterion_main!(benches);
