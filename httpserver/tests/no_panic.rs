//! Mutated and random inputs must give an `Err` or a result, never a panic:
//! a poor man's fuzzer for every parser a peer can reach.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tornado_httpserver::http1connection::{
    ChunkedDecoder, GzipDecoder, Http1ConnectionParameters, Parsed, parse_request_head,
    parse_request_head_bytes,
};
use tornado_httpserver::httputil::{
    Arguments, Files, HttpHeaders, HttpServerRequest, parse_body_arguments, parse_cookie,
    parse_header,
};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INTERESTING: &[u8] = b"\r\n\t :;,=\"\\%+-0123456789abcdefxX\x00\x7f\x80\xff";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = if v.is_empty() {
            0
        } else {
            rng.below(v.len() + 1)
        };
        let byte = INTERESTING[rng.below(INTERESTING.len())];
        match rng.below(4) {
            0 if at < v.len() => v[at] = byte,
            1 => v.insert(at, byte),
            2 if at < v.len() => {
                v.remove(at);
            }
            _ => v.truncate(at),
        }
    }
    v
}

const ROUNDS: usize = 20_000;

#[test]
fn request_heads() {
    let seeds: &[&[u8]] = &[
        b"GET /a?b=c HTTP/1.1\r\nHost: h:80\r\nCookie: a=1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nExpect: 100-continue\r\n\r\nhello",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
    ];
    let params = Http1ConnectionParameters::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..ROUNDS {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        let copied = parse_request_head(&input, &params);
        if let Ok(Parsed::Complete(head)) = &copied {
            assert!(head.head_len <= input.len());
        }
        // The in-place parse agrees, and every view of its head can be read.
        let mut buf = BytesMut::from(&input[..]);
        let viewed = parse_request_head_bytes(&mut buf, &params);
        assert_eq!(viewed.is_ok(), copied.is_ok());
        if let (Ok(Parsed::Complete(head)), Ok(Parsed::Complete(same))) = (viewed, &copied) {
            assert_eq!(&head, same);
            assert_eq!(buf.len(), input.len() - head.head_len);
            let _ = (
                head.uri(),
                head.path(),
                head.query(),
                head.headers().iter().count(),
            );
            if let Ok(req) = HttpServerRequest::new(head, Bytes::new(), Instant::now()) {
                let _ = (req.host_name(), req.arguments().len(), req.cookies().len());
            }
        }
    }
}

#[test]
fn chunked_bodies() {
    let seeds: &[&[u8]] = &[
        b"5\r\nhello\r\n0\r\n\r\n",
        b"a;x=\"y\"\r\n0123456789\r\n0\r\nT: 1\r\n\r\n",
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..ROUNDS {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        let mut dec = ChunkedDecoder::new(64);
        let mut pos = 0;
        while let Ok(step) = dec.decode(&input[pos..]) {
            assert!(step.data.end <= input.len() - pos);
            pos += step.consumed;
            if step.done || step.consumed == 0 {
                break;
            }
        }
    }
}

#[test]
fn form_bodies_headers_and_cookies() {
    let seeds: &[&str] = &[
        "--b\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''%C3%A1\r\nContent-Type: t\r\n\r\nv\r\n--b--\r\n",
        "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"x;\\\"y\"\r\n\r\n1\r\n--b--",
    ];
    let mut rng = Rng(0x0bad_cafe_dead_beef);
    let headers = HttpHeaders::new();
    for round in 0..ROUNDS {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed.as_bytes());
        let (mut args, mut files) = (Arguments::new(), Files::new());
        let ct = if round % 2 == 0 {
            "multipart/form-data; boundary=b"
        } else {
            "application/x-www-form-urlencoded"
        };
        let _ = parse_body_arguments(
            ct,
            &Bytes::from(input.clone()),
            &mut args,
            &mut files,
            &headers,
        );
        let text = String::from_utf8_lossy(&input);
        let _ = HttpHeaders::parse(&text);
        let _ = parse_cookie(&text);
        let _ = parse_header(&text);
    }
}

#[test]
fn gzip_bodies() {
    let mut rng = Rng(42);
    let seed: &[u8] = &[
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x4b, 0xcb, 0xcf, 0xb7, 5, 0, 0x21, 0x65, 0x73, 0x8c,
        4, 0, 0, 0,
    ];
    for _ in 0..ROUNDS / 10 {
        let input = mutate(&mut rng, seed);
        let mut dec = GzipDecoder::new(1 << 16);
        let mut out = Vec::new();
        if dec.decompress(&input, &mut out).is_ok() {
            let _ = dec.finish(&mut out);
        }
    }
}
