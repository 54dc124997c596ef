//! Heap allocations per keep-alive request, one request at a time and pipelined
//! sixteen to a write, through the closure path of `HttpServer`
//! (`HttpServer::new(|req| async { Response::text(..) })`) and through an
//! `Application` whose `RequestHandler` sets a header and writes (the `helloworld`
//! example's `/`).
//!
//! A counting global allocator keeps one count per thread (`alloc` and `realloc` each
//! count one), so only the server's thread is counted: the client is a blocking
//! `std::net::TcpStream` on a thread of its own. The handler itself reads the count
//! when it is called for request `WARM_UP` and for request `WARM_UP + MEASURED`;
//! between the two the server went through exactly `MEASURED` whole request cycles
//! (read, parse, call the closure, encode, write), whatever the machine's speed. The
//! loop waits for the client without a timer, so nothing else runs on it meanwhile but
//! the server's own clock-driven work (the once-a-second `Date` header).
//!
//! This file is its own test binary, so other tests' servers do not share its process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use tornado::httpserver::httputil::HttpServerRequest;
use tornado::httpserver::{HttpServer, Response};
use tornado::ioloop::IoLoop;
use tornado::web::{Application, Context, RequestHandler, url};

/// The most heap allocations a request may cost on the server's thread, in either
/// mode (goal: 2). Two today: the boxed future that handles a request, and the
/// request head's boxed parts (so that moving a head or a request copies a pointer,
/// not hundreds of bytes); parsing, the closure's future and a small response
/// allocate nothing. The hundredth on top leaves room for clock-driven work that may
/// fall inside the count on a slow machine (ten stray allocations over the measured
/// requests), not for a third allocation per request.
const MAX_ALLOCATIONS_PER_REQUEST: f64 = 2.01;

/// The same through the web framework (goal: as few as the server's). Four today:
/// the request head's boxed parts, the handler's state made at the head (its type is
/// the route's, so it is boxed), the request head copied out of the connection's read
/// buffer (so a handler that waits does not pin the buffer; one allocation with its
/// count of handles), and the handler's boxed future at `finish`. A request without a
/// body gets no future for reading it (the web handler's `finish` is handed over as
/// the head arrives); the response's headers reuse the thread's spare buffer, a header
/// value is formatted in the thread's scratch string, and the default ETag reuses the
/// last tag's string.
const MAX_WEB_ALLOCATIONS_PER_REQUEST: f64 = 4.01;

/// Requests served before counting, so buffers and pools reach their working size.
const WARM_UP: u64 = 128;
/// Requests counted (a multiple of [`PIPELINE_DEPTH`]).
const MEASURED: u64 = 1024;
/// Requests per write in the pipelined test.
const PIPELINE_DEPTH: u64 = 16;
/// The most the whole exchange may take on the loop.
const TIMEOUT: Duration = Duration::from_secs(120);
/// The most one client read or write may block.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

struct Counting;

thread_local! {
    // `const`, and no destructor: the allocator may touch it at any time, even while
    // the thread starts or ends, without allocating itself.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// Allocations made so far on this thread.
fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call forwards to the system allocator unchanged; counting touches only
// a thread-local counter and has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Set by the client thread when it ends (also by a panic), then its loop is woken.
#[derive(Default)]
struct Done {
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// Marks `Done` when dropped, so a panicking client still wakes the loop.
struct SignalOnDrop(Arc<Done>);

impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::Release);
        let waker = self.0.waker.lock().map(|mut w| w.take());
        if let Ok(Some(w)) = waker {
            w.wake();
        }
    }
}

/// Reads `count` whole `200` responses, `Content-Length` framed; returns the bytes
/// read past them (none, from a correct server).
fn read_responses(stream: &mut TcpStream, mut count: u64, mut buf: Vec<u8>) -> Vec<u8> {
    let mut chunk = [0u8; 16 * 1024];
    while count > 0 {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).expect("an ASCII response head");
            assert!(
                head.starts_with("HTTP/1.1 200 "),
                "unexpected head {head:?}"
            );
            let length: usize = head
                .split("\r\n")
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim().parse().expect("a numeric Content-Length"))
                .expect("a Content-Length header");
            if buf.len() >= end + 4 + length {
                assert_eq!(&buf[end + 4..end + 4 + length], b"Hello, world");
                buf.drain(..end + 4 + length);
                count -= 1;
                continue;
            }
        }
        let n = stream.read(&mut chunk).expect("read a response");
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    buf
}

/// Sends `total` requests on one keep-alive connection, `depth` per write, and reads
/// each write's responses before the next write.
fn client(addr: SocketAddr, total: u64, depth: u64) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let batch = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(depth as usize);
    let mut rest = Vec::new();
    for _ in 0..total / depth {
        stream.write_all(&batch).expect("write requests");
        rest = read_responses(&mut stream, depth, rest);
    }
    assert!(rest.is_empty(), "more bytes than responses: {rest:?}");
}

/// Counts the calls of a handler, and the thread's allocations at request `WARM_UP`
/// and at request `WARM_UP + MEASURED`.
#[derive(Clone, Default)]
struct Marks {
    calls: Rc<Cell<u64>>,
    marks: Rc<Cell<(u64, u64)>>,
}

impl Marks {
    /// Called by the handler for each request.
    fn call(&self) {
        let call = self.calls.get();
        self.calls.set(call + 1);
        if call == WARM_UP {
            self.marks.set((allocations(), 0));
        } else if call == WARM_UP + MEASURED {
            self.marks.set((self.marks.get().0, allocations()));
        }
    }
}

/// Something that serves `GET /` with `Hello, world` on 127.0.0.1.
trait Serve {
    fn start(&self) -> SocketAddr;
    fn stop(&self);
}

impl Serve for HttpServer {
    fn start(&self) -> SocketAddr {
        self.listen(0, Some("127.0.0.1")).expect("listen");
        self.local_addrs()[0]
    }
    fn stop(&self) {
        HttpServer::stop(self);
    }
}

/// The `helloworld` example's `/`, counting its calls.
struct MainHandler(Marks);

impl RequestHandler for MainHandler {
    async fn get(&mut self, cx: &mut Context) -> tornado::web::Result {
        self.0.call();
        cx.set_header("Content-Type", "text/plain")?;
        cx.write("Hello, world");
        Ok(())
    }
}

/// An application, and its server once listening.
struct Web(Application, std::cell::RefCell<Option<HttpServer>>);

impl Serve for Web {
    fn start(&self) -> SocketAddr {
        let server = self.0.listen_on(0, Some("127.0.0.1")).expect("listen");
        let addr = server.local_addrs()[0];
        *self.1.borrow_mut() = Some(server);
        addr
    }
    fn stop(&self) {
        if let Some(server) = self.1.borrow_mut().take() {
            server.stop();
        }
    }
}

/// Allocations per request on the server's thread, `depth` requests per write.
fn allocations_per_request(depth: u64, make: impl FnOnce(Marks) -> Box<dyn Serve>) -> f64 {
    let io_loop = IoLoop::new().expect("new loop");
    let marks = Marks::default();
    let server = make(marks.clone());
    let client_result = io_loop
        .run_sync_timeout(
            async move {
                let addr = server.start();
                let done = Arc::new(Done::default());
                let signal = SignalOnDrop(done.clone());
                // One more write after the measured ones, for the closing mark.
                let total = WARM_UP + MEASURED + depth;
                let handle = std::thread::spawn(move || {
                    let _signal = signal;
                    client(addr, total, depth);
                });
                std::future::poll_fn(|cx| {
                    let mut waker = done.waker.lock().expect("waker lock");
                    if done.done.load(Ordering::Acquire) {
                        return Poll::Ready(());
                    }
                    if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        *waker = Some(cx.waker().clone());
                    }
                    Poll::Pending
                })
                .await;
                server.stop();
                handle.join()
            },
            TIMEOUT,
        )
        .expect("the client finished in time");
    if let Err(panic) = client_result {
        std::panic::resume_unwind(panic);
    }
    let (start, end) = marks.marks.get();
    assert!(
        marks.calls.get() > WARM_UP + MEASURED,
        "only {} requests reached the handler",
        marks.calls.get()
    );
    (end - start) as f64 / MEASURED as f64
}

/// The closure path of the server.
fn closure_server(marks: Marks) -> Box<dyn Serve> {
    Box::new(HttpServer::new(move |_req: HttpServerRequest| {
        marks.call();
        async { Response::text("Hello, world") }
    }))
}

/// The web framework.
fn web_app(marks: Marks) -> Box<dyn Serve> {
    let app = Application::new(vec![url("/", move || MainHandler(marks.clone()))]);
    Box::new(Web(app, Default::default()))
}

fn check(mode: &str, per_request: f64, bound: f64) {
    eprintln!(
        "{mode}: {per_request:.3} heap allocations per request on the server's thread \
         (bound {bound})"
    );
    assert!(
        per_request <= bound,
        "{mode}: {per_request:.3} allocations per request, more than the bound {bound}"
    );
}

#[test]
fn keep_alive_request_allocations() {
    check(
        "server, keep-alive",
        allocations_per_request(1, closure_server),
        MAX_ALLOCATIONS_PER_REQUEST,
    );
}

#[test]
fn pipelined_request_allocations() {
    check(
        "server, pipelined x16",
        allocations_per_request(PIPELINE_DEPTH, closure_server),
        MAX_ALLOCATIONS_PER_REQUEST,
    );
}

#[test]
fn web_keep_alive_request_allocations() {
    check(
        "web, keep-alive",
        allocations_per_request(1, web_app),
        MAX_WEB_ALLOCATIONS_PER_REQUEST,
    );
}

#[test]
fn web_pipelined_request_allocations() {
    check(
        "web, pipelined x16",
        allocations_per_request(PIPELINE_DEPTH, web_app),
        MAX_WEB_ALLOCATIONS_PER_REQUEST,
    );
}
