//! Happy eyeballs (RFC 6555), as Tornado's `_Connector`: the connection attempts of one
//! `connect`, over any kind of attempt future so the logic is tested without sockets.
//!
//! The resolved addresses are split by family: the family of the first address is
//! primary, the rest secondary. Attempts run one at a time within a family, in the
//! resolver's order. The secondary family starts after a delay (or at once when a primary
//! attempt fails), in parallel with the primary one. The first attempt to succeed wins;
//! the others are dropped, which closes their sockets. When every address has failed the
//! last error is returned.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tornado_ioloop::{Sleep, sleep};

/// One family's queue of addresses and its attempt in flight.
struct Lane<Fut> {
    waiting: VecDeque<SocketAddr>,
    current: Option<(SocketAddr, Pin<Box<Fut>>)>,
}

impl<Fut> Lane<Fut> {
    fn idle_and_empty(&self) -> bool {
        self.current.is_none() && self.waiting.is_empty()
    }
}

/// Runs connection attempts made by `connect` until one succeeds or all fail.
pub(crate) struct Connector<F, Fut> {
    connect: F,
    lanes: [Lane<Fut>; 2],
    secondary_started: bool,
    secondary_timer: Option<Sleep>,
    last_error: Option<(SocketAddr, io::Error)>,
}

impl<T, F, Fut> Connector<F, Fut>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    /// Starts the first primary attempt at once; the secondary family after `delay`.
    pub(crate) fn new(addrs: &[SocketAddr], delay: Duration, connect: F) -> Self {
        let mut primary = VecDeque::new();
        let mut secondary = VecDeque::new();
        if let Some(first) = addrs.first() {
            for a in addrs {
                if a.is_ipv4() == first.is_ipv4() {
                    primary.push_back(*a);
                } else {
                    secondary.push_back(*a);
                }
            }
        }
        let mut c = Connector {
            connect,
            lanes: [
                Lane {
                    waiting: primary,
                    current: None,
                },
                Lane {
                    waiting: secondary,
                    current: None,
                },
            ],
            secondary_started: false,
            secondary_timer: None,
            last_error: None,
        };
        c.start_next(0);
        if !c.lanes[1].waiting.is_empty() {
            c.secondary_timer = Some(sleep(delay));
        }
        c
    }

    fn start_next(&mut self, lane: usize) {
        if let Some(addr) = self.lanes[lane].waiting.pop_front() {
            let fut = Box::pin((self.connect)(addr));
            self.lanes[lane].current = Some((addr, fut));
        }
    }

    fn start_secondary(&mut self) {
        if !self.secondary_started {
            self.secondary_started = true;
            self.secondary_timer = None;
            self.start_next(1);
        }
    }

    /// The addresses with an attempt in flight, for a timeout's message.
    pub(crate) fn pending_addrs(&self) -> Vec<SocketAddr> {
        self.lanes
            .iter()
            .filter_map(|l| l.current.as_ref().map(|(a, _)| *a))
            .collect()
    }
}

impl<T, F, Fut> Future for Connector<F, Fut>
where
    F: FnMut(SocketAddr) -> Fut + Unpin,
    Fut: Future<Output = io::Result<T>>,
{
    /// The address that answered and its connection, or the last address tried and why
    /// it failed.
    type Output = Result<(SocketAddr, T), (Option<SocketAddr>, io::Error)>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            if let Some(timer) = &mut this.secondary_timer
                && Pin::new(timer).poll(cx).is_ready()
            {
                this.start_secondary();
            }
            let mut progressed = false;
            for lane in 0..2 {
                let Some((addr, fut)) = &mut this.lanes[lane].current else {
                    continue;
                };
                let addr = *addr;
                match fut.as_mut().poll(cx) {
                    Poll::Pending => {}
                    Poll::Ready(Ok(conn)) => return Poll::Ready(Ok((addr, conn))),
                    Poll::Ready(Err(e)) => {
                        log::debug!("connect to {addr} failed: {e}");
                        this.lanes[lane].current = None;
                        this.last_error = Some((addr, e));
                        this.start_next(lane);
                        // A failure need not wait for the delay to try the other family.
                        this.start_secondary();
                        progressed = true;
                    }
                }
            }
            if this.lanes.iter().all(Lane::idle_and_empty) {
                let (addr, e) = match this.last_error.take() {
                    Some((a, e)) => (Some(a), e),
                    None => (
                        None,
                        io::Error::new(io::ErrorKind::NotFound, "no address to connect to"),
                    ),
                };
                return Poll::Ready(Err((addr, e)));
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Tornado's ConnectorTest: attempts are fake futures that the test completes.
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;
    use std::task::Waker;
    use tornado_ioloop::{IoLoop, spawn, yield_now};

    #[derive(Default)]
    struct Slot {
        result: Option<io::Result<u32>>,
        waker: Option<Waker>,
        dropped: bool,
    }

    #[derive(Default, Clone)]
    struct Net {
        slots: Rc<RefCell<HashMap<SocketAddr, Slot>>>,
        /// Addresses whose attempt fails as soon as it is made.
        sync_failures: Rc<RefCell<Vec<SocketAddr>>>,
    }

    struct Attempt {
        net: Net,
        addr: SocketAddr,
    }

    impl Future for Attempt {
        type Output = io::Result<u32>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u32>> {
            let mut slots = self.net.slots.borrow_mut();
            let slot = slots.entry(self.addr).or_default();
            match slot.result.take() {
                Some(r) => Poll::Ready(r),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }

    impl Drop for Attempt {
        fn drop(&mut self) {
            if let Some(s) = self.net.slots.borrow_mut().get_mut(&self.addr) {
                s.dropped = true;
            }
        }
    }

    impl Net {
        fn connect(&self) -> impl FnMut(SocketAddr) -> Attempt + Unpin + use<> {
            let net = self.clone();
            move |addr| {
                let mut slot = Slot::default();
                if net.sync_failures.borrow().contains(&addr) {
                    slot.result = Some(Err(io::Error::other(format!("sync failure {addr}"))));
                }
                net.slots.borrow_mut().insert(addr, slot);
                Attempt {
                    net: net.clone(),
                    addr,
                }
            }
        }

        /// Addresses with an attempt made, not finished and not dropped.
        fn pending(&self) -> Vec<SocketAddr> {
            let mut v: Vec<_> = self
                .slots
                .borrow()
                .iter()
                .filter(|(_, s)| !s.dropped && s.waker.is_some())
                .map(|(a, _)| *a)
                .collect();
            v.sort();
            v
        }

        async fn finish(&self, addr: SocketAddr, ok: bool) {
            let waker = {
                let mut slots = self.slots.borrow_mut();
                let slot = slots.get_mut(&addr).expect("attempt was made");
                slot.result = Some(if ok {
                    Ok(u32::from(addr.port()))
                } else {
                    Err(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"))
                });
                slot.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            settle().await;
        }

        fn dropped(&self, addr: SocketAddr) -> bool {
            self.slots.borrow().get(&addr).is_some_and(|s| s.dropped)
        }
    }

    async fn settle() {
        for _ in 0..3 {
            yield_now().await;
        }
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    // AF1 = IPv4 (a, b), AF2 = IPv6 (c, d), as Tornado's test's addrinfo.
    fn addrinfo() -> Vec<SocketAddr> {
        vec![
            a("10.0.0.1:1"),
            a("10.0.0.2:2"),
            a("[fd00::3]:3"),
            a("[fd00::4]:4"),
        ]
    }

    type Outcome = Result<(SocketAddr, u32), (Option<SocketAddr>, io::Error)>;

    /// Runs `body` with a connector over `addrs` whose secondary delay is an hour, so
    /// the test decides when the secondary family starts (by failing a primary attempt).
    fn with_connector<Fut>(
        addrs: Vec<SocketAddr>,
        body: impl FnOnce(Net, tornado_ioloop::JoinHandle<Outcome>) -> Fut + 'static,
    ) where
        Fut: Future<Output = ()> + 'static,
    {
        IoLoop::new()
            .unwrap()
            .run_sync_timeout(
                async move {
                    let net = Net::default();
                    let connect = net.connect();
                    let task = spawn(async move {
                        Connector::new(&addrs, Duration::from_secs(3600), connect).await
                    });
                    settle().await;
                    body(net, task).await;
                },
                Duration::from_secs(10),
            )
            .unwrap();
    }

    #[test]
    fn immediate_success() {
        with_connector(addrinfo(), |net, task| async move {
            assert_eq!(net.pending(), vec![a("10.0.0.1:1")]);
            net.finish(a("10.0.0.1:1"), true).await;
            let (addr, conn) = task.await.unwrap().unwrap();
            assert_eq!((addr, conn), (a("10.0.0.1:1"), 1));
        });
    }

    #[test]
    fn immediate_failure() {
        with_connector(vec![a("10.0.0.1:1")], |net, task| async move {
            net.finish(a("10.0.0.1:1"), false).await;
            let (addr, e) = task.await.unwrap().unwrap_err();
            assert_eq!(addr, Some(a("10.0.0.1:1")));
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        });
    }

    #[test]
    fn one_family_second_try() {
        with_connector(
            vec![a("10.0.0.1:1"), a("10.0.0.2:2")],
            |net, task| async move {
                assert_eq!(net.pending(), vec![a("10.0.0.1:1")]);
                net.finish(a("10.0.0.1:1"), false).await;
                assert_eq!(net.pending(), vec![a("10.0.0.2:2")]);
                net.finish(a("10.0.0.2:2"), true).await;
                assert_eq!(task.await.unwrap().unwrap(), (a("10.0.0.2:2"), 2));
            },
        );
    }

    #[test]
    fn one_family_second_try_failure() {
        with_connector(
            vec![a("10.0.0.1:1"), a("10.0.0.2:2")],
            |net, task| async move {
                net.finish(a("10.0.0.1:1"), false).await;
                net.finish(a("10.0.0.2:2"), false).await;
                let (addr, _) = task.await.unwrap().unwrap_err();
                assert_eq!(addr, Some(a("10.0.0.2:2")));
            },
        );
    }

    #[test]
    fn two_families_immediate_failure() {
        with_connector(addrinfo(), |net, task| async move {
            net.finish(a("10.0.0.1:1"), false).await;
            assert_eq!(net.pending(), vec![a("10.0.0.2:2"), a("[fd00::3]:3")]);
            net.finish(a("10.0.0.2:2"), false).await;
            net.finish(a("[fd00::3]:3"), true).await;
            assert_eq!(task.await.unwrap().unwrap(), (a("[fd00::3]:3"), 3));
        });
    }

    #[test]
    fn all_fail() {
        with_connector(addrinfo(), |net, task| async move {
            net.finish(a("10.0.0.1:1"), false).await;
            assert_eq!(net.pending(), vec![a("10.0.0.2:2"), a("[fd00::3]:3")]);
            net.finish(a("[fd00::3]:3"), false).await;
            assert_eq!(net.pending(), vec![a("10.0.0.2:2"), a("[fd00::4]:4")]);
            net.finish(a("[fd00::4]:4"), false).await;
            assert_eq!(net.pending(), vec![a("10.0.0.2:2")]);
            assert!(!task.is_finished());
            net.finish(a("10.0.0.2:2"), false).await;
            let (addr, _) = task.await.unwrap().unwrap_err();
            assert_eq!(addr, Some(a("10.0.0.2:2")));
        });
    }

    #[test]
    fn success_drops_the_other_attempts() {
        with_connector(addrinfo(), |net, task| async move {
            net.finish(a("10.0.0.1:1"), false).await;
            assert_eq!(net.pending(), vec![a("10.0.0.2:2"), a("[fd00::3]:3")]);
            net.finish(a("[fd00::3]:3"), true).await;
            assert_eq!(task.await.unwrap().unwrap(), (a("[fd00::3]:3"), 3));
            assert!(net.dropped(a("10.0.0.2:2")), "the loser is closed");
            assert!(net.pending().is_empty());
        });
    }

    #[test]
    fn sync_failure_of_the_whole_primary_family() {
        IoLoop::new()
            .unwrap()
            .run_sync_timeout(
                async {
                    let net = Net::default();
                    net.sync_failures
                        .borrow_mut()
                        .extend([a("10.0.0.1:1"), a("10.0.0.2:2")]);
                    let connect = net.connect();
                    let addrs = addrinfo();
                    let task = spawn(async move {
                        Connector::new(&addrs, Duration::from_secs(3600), connect).await
                    });
                    settle().await;
                    assert_eq!(net.pending(), vec![a("[fd00::3]:3")]);
                    net.finish(a("[fd00::3]:3"), true).await;
                    assert_eq!(task.await.unwrap().unwrap(), (a("[fd00::3]:3"), 3));
                },
                Duration::from_secs(10),
            )
            .unwrap();
    }

    #[test]
    fn secondary_starts_after_the_delay() {
        IoLoop::new()
            .unwrap()
            .run_sync_timeout(
                async {
                    let net = Net::default();
                    let connect = net.connect();
                    let addrs = addrinfo();
                    let task = spawn(async move {
                        Connector::new(&addrs, Duration::from_millis(30), connect).await
                    });
                    settle().await;
                    assert_eq!(net.pending(), vec![a("10.0.0.1:1")]);
                    sleep(Duration::from_millis(60)).await;
                    assert_eq!(net.pending(), vec![a("10.0.0.1:1"), a("[fd00::3]:3")]);
                    // The primary still wins if it answers first.
                    net.finish(a("10.0.0.1:1"), true).await;
                    assert_eq!(task.await.unwrap().unwrap(), (a("10.0.0.1:1"), 1));
                    assert!(net.dropped(a("[fd00::3]:3")));
                },
                Duration::from_secs(10),
            )
            .unwrap();
    }

    #[test]
    fn no_addresses() {
        IoLoop::new()
            .unwrap()
            .run_sync_timeout(
                async {
                    let net = Net::default();
                    let r = Connector::new(&[], Duration::from_secs(1), net.connect()).await;
                    let (addr, e) = r.unwrap_err();
                    assert_eq!(addr, None);
                    assert_eq!(e.kind(), io::ErrorKind::NotFound);
                },
                Duration::from_secs(10),
            )
            .unwrap();
    }
}
