//! A counting global allocator measures what a warm keep-alive request costs through
//! the closure path (`|req| async { Response::text("Hello, world") }`).
//!
//! This file is its own test binary, with one test, so no other test allocates while it
//! counts. The client is a plain blocking socket on a helper thread that reads into a
//! fixed buffer, so in its steady state it allocates nothing itself.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};

use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{HttpServerSettings, Response};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator unchanged; counting has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What `wrk -H 'Host: localhost'` sends to the plaintext benchmark.
const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: localhost:8888\r\n\
Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n\
Connection: keep-alive\r\n\r\n";

const WARM_UP: usize = 2_000;
const MEASURED: usize = 20_000;

/// Sends one request and reads its whole response into `buf`.
fn round_trip(stream: &mut TcpStream, buf: &mut [u8]) {
    stream.write_all(REQUEST).expect("write");
    let mut len = 0;
    while !buf[..len].ends_with(b"Hello, world") {
        let n = stream.read(&mut buf[len..]).expect("read");
        assert!(n > 0, "server closed");
        len += n;
    }
}

#[test]
fn keep_alive_request_allocations() {
    let per_request = common::serve(
        |_req: HttpServerRequest| async { Response::text("Hello, world") },
        HttpServerSettings::default(),
        |addr| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream
                .set_read_timeout(Some(common::IO_TIMEOUT))
                .expect("timeout");
            let mut buf = [0u8; 4096];
            for _ in 0..WARM_UP {
                round_trip(&mut stream, &mut buf);
            }
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            for _ in 0..MEASURED {
                round_trip(&mut stream, &mut buf);
            }
            let after = ALLOCATIONS.load(Ordering::Relaxed);
            (after - before) as f64 / MEASURED as f64
        },
    );
    println!("allocations per keep-alive request: {per_request:.2}");
    // The request head, the request and the response headers allocate nothing, nor
    // does the read buffer the head is split from (it is reclaimed once the request is
    // dropped); what is left is the boxed request future and the boxed handler future,
    // and some noise from the test's own polling.
    assert!(
        per_request < 2.5,
        "{per_request:.2} allocations per keep-alive request"
    );
}
