//! A counting global allocator shows that a warm wake→poll cycle allocates nothing.
//!
//! This file is its own test binary, with one test. Only the allocations of the thread
//! that runs the loop are counted: the test harness's main thread allocates now and then
//! (it did 4 times in about one run out of five), and those say nothing about the loop.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tornado_ioloop::{IoLoop, spawn};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // `const` and without a destructor: reading it never allocates, so the allocator
    // may look at it.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count_allocation() {
    if COUNTED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call forwards to the system allocator unchanged; counting has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Two tasks passing a turn back and forth through stored wakers.
struct PingPong {
    me: usize,
    turn: Rc<Cell<usize>>,
    left: Rc<Cell<u64>>,
    wakers: Rc<[Cell<Option<Waker>>; 2]>,
}

impl Future for PingPong {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left.get() == 0 {
            if let Some(w) = self.wakers[1 - self.me].take() {
                w.wake();
            }
            return Poll::Ready(());
        }
        if self.turn.get() == self.me {
            self.left.set(self.left.get() - 1);
            self.turn.set(1 - self.me);
            if let Some(w) = self.wakers[1 - self.me].take() {
                w.wake_by_ref();
                self.wakers[1 - self.me].set(Some(w));
            }
        }
        // Keep our waker stored (cloned once, then reused).
        let mine = self.wakers[self.me].take();
        let w = match mine {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        self.wakers[self.me].set(Some(w));
        Poll::Pending
    }
}

fn ping_pong(rounds: u64) -> impl Future<Output = ()> {
    let turn = Rc::new(Cell::new(0));
    let left = Rc::new(Cell::new(rounds));
    let wakers = Rc::new([Cell::new(None), Cell::new(None)]);
    let a = spawn(PingPong {
        me: 0,
        turn: turn.clone(),
        left: left.clone(),
        wakers: wakers.clone(),
    });
    let b = spawn(PingPong {
        me: 1,
        turn,
        left,
        wakers,
    });
    async move {
        a.await.unwrap();
        b.await.unwrap();
    }
}

#[test]
fn warm_wake_poll_cycles_allocate_nothing() {
    COUNTED.with(|c| c.set(true));
    let io_loop = IoLoop::new().unwrap();
    let counted = io_loop
        .run_sync_timeout(
            async {
                // Warm up: queues reach their working capacity.
                ping_pong(1000).await;
                let turn = Rc::new(Cell::new(0));
                let left = Rc::new(Cell::new(100_000u64));
                let wakers = Rc::new([Cell::new(None), Cell::new(None)]);
                let a = spawn(PingPong {
                    me: 0,
                    turn: turn.clone(),
                    left: left.clone(),
                    wakers: wakers.clone(),
                });
                let b = spawn(PingPong {
                    me: 1,
                    turn,
                    left: left.clone(),
                    wakers,
                });
                // Let both tasks start and store their wakers.
                tornado_ioloop::yield_now().await;
                tornado_ioloop::yield_now().await;
                let before = ALLOCATIONS.load(Ordering::Relaxed);
                let start_left = left.get();
                // Wait (without allocating) until most rounds are done.
                std::future::poll_fn(|cx| {
                    if left.get() < 1000 {
                        Poll::Ready(())
                    } else {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await;
                let after = ALLOCATIONS.load(Ordering::Relaxed);
                let cycles = start_left - left.get();
                a.await.unwrap();
                b.await.unwrap();
                (after - before, cycles)
            },
            Duration::from_secs(30),
        )
        .expect("ping-pong finished");
    let (allocations, cycles) = counted;
    assert!(cycles > 90_000, "{cycles} cycles measured");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations over {cycles} wake→poll cycles"
    );
}
