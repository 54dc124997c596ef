//! A streaming handler that flushes and then waits (server-sent events) holds no body
//! buffer while it waits, even when the thread's spare buffer is a large one left by
//! an earlier response. Measured with a counting allocator: live heap bytes, not time.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use common::RawClient;
use tornado_web::{Application, Context, RequestHandler, testing, url};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is
// only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout goes to the system allocator as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` or `realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as for `dealloc`; the system allocator checks the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A 12,000-byte answer, whose emptied buffer becomes the thread's spare.
struct Big;

impl RequestHandler for Big {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write(vec![b'z'; 12_000]);
        Ok(())
    }
}

/// Writes an event, flushes it and waits.
struct Events;

impl RequestHandler for Events {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("data: hi\n\n");
        cx.flush().await?;
        tornado_gen::sleep(Duration::from_secs(30)).await;
        Ok(())
    }
}

#[test]
fn a_flushed_and_waiting_handler_holds_no_body_buffer() {
    const WAITERS: isize = 50;
    testing::run(
        || Application::new(vec![url("/big", || Big), url("/events", || Events)]),
        |t| async move {
            for _ in 0..3 {
                t.fetch("/big").await;
            }
            let before = LIVE.load(Ordering::Relaxed);
            let mut waiting = Vec::new();
            for _ in 0..WAITERS {
                // Each waiter starts right after a big answer left its buffer spare.
                t.fetch("/big").await;
                let c = RawClient::connect(t.addr()).await;
                c.request("GET", "/events", "").await;
                let _ = c.read_head().await;
                let _ = c.read_chunk().await;
                waiting.push(c);
            }
            let per_waiter = (LIVE.load(Ordering::Relaxed) - before) / WAITERS;
            // A waiter and its connection take about 3 KiB; holding the spare would
            // add 12 KiB each.
            assert!(per_waiter < 8 * 1024, "{per_waiter} bytes per waiter");
        },
    );
}
