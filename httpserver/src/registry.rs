//! One thread's open connections of a server, for shutdown, `close_all_connections`
//! and the idle sweep.
//!
//! The registry knows connections only through the small [`Tracked`] trait, so it sits
//! below the connection code: a connection registers itself when it starts and leaves
//! when it ends.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use slab::Slab;
use tornado_ioloop::{IoLoop, PeriodicCallback};

/// How often a graceful [`HttpServer::shutdown`](crate::HttpServer::shutdown) checks
/// whether the last connection has finished.
pub const SHUTDOWN_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// What the registry can ask of a connection.
pub(crate) trait Tracked {
    /// Closes the connection now, whatever it is doing.
    fn close(&self);
    /// Closes the connection if it waits for a request with nothing received; returns
    /// whether it did.
    fn close_if_idle(&self) -> bool;
    /// Closes the connection if its idle deadline has passed (`now` by the wall clock).
    fn sweep(&self, now: Instant);
}

/// A connection a handler took over from the server (a WebSocket, after
/// [`ResponseWriter::detach`](crate::ResponseWriter::detach)) that the server still
/// counts as open, so that a graceful shutdown lets it end well: registered with
/// [`ResponseWriter::track_upgraded`](crate::ResponseWriter::track_upgraded), it is
/// asked to [`shutdown`](Self::shutdown) when the server shuts down, the shutdown
/// waits for it (up to its grace), and it is [`close`](Self::close)d when the grace
/// is over or on `close_all_connections`, after which it is no longer counted
/// (whether or not its protocol has ended yet). It is not subject to the idle-connection
/// timeout: the protocol keeps its own time.
pub trait UpgradedConnection {
    /// The server is shutting down: end the protocol soon and cleanly (a WebSocket
    /// sends its close frame, 1001 "going away"). Called once, with a strong
    /// reference the connection may keep while it says goodbye.
    fn shutdown(self: Rc<Self>);
    /// Close the connection now.
    fn close(self: Rc<Self>);
}

/// The slot of an upgraded connection that was closed: counted no more.
struct Gone;

impl UpgradedConnection for Gone {
    fn shutdown(self: Rc<Self>) {}
    fn close(self: Rc<Self>) {}
}

/// Keeps an [`UpgradedConnection`] counted among the server's open connections; the
/// connection leaves the count when this is dropped (when its protocol ends).
pub struct UpgradeGuard {
    registry: Rc<Registry>,
    key: usize,
}

impl std::fmt::Debug for UpgradeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpgradeGuard")
            .field("key", &self.key)
            .finish()
    }
}

impl Drop for UpgradeGuard {
    fn drop(&mut self) {
        self.registry.upgraded.borrow_mut().try_remove(self.key);
    }
}

/// One thread's part of a server's state: its open connections and whether it is
/// shutting down.
pub(crate) struct Registry {
    idle_timeout: Option<Duration>,
    conns: RefCell<Slab<Weak<dyn Tracked>>>,
    /// Connections taken over by another protocol, counted until they end.
    upgraded: RefCell<Slab<Weak<dyn UpgradedConnection>>>,
    shutting_down: Cell<bool>,
    /// Closes connections idle past `idle_connection_timeout`; runs while there are
    /// connections, so idle connections need no timer each.
    sweeper: RefCell<Option<PeriodicCallback>>,
}

impl Registry {
    pub(crate) fn new(idle_timeout: Option<Duration>) -> Rc<Self> {
        Rc::new(Registry {
            idle_timeout,
            conns: RefCell::new(Slab::new()),
            upgraded: RefCell::new(Slab::new()),
            shutting_down: Cell::new(false),
            sweeper: RefCell::new(None),
        })
    }

    pub(crate) fn register(self: &Rc<Self>, conn: Weak<dyn Tracked>) -> usize {
        let key = self.conns.borrow_mut().insert(conn);
        self.start_sweeper();
        key
    }

    /// Counts `conn` as open until the guard is dropped; a connection upgraded while
    /// the server shuts down is asked to end at once.
    pub(crate) fn register_upgraded(
        self: &Rc<Self>,
        conn: Weak<dyn UpgradedConnection>,
    ) -> UpgradeGuard {
        let key = self.upgraded.borrow_mut().insert(conn.clone());
        if self.shutting_down.get()
            && let Some(conn) = conn.upgrade()
        {
            conn.shutdown();
        }
        UpgradeGuard {
            registry: self.clone(),
            key,
        }
    }

    fn live_upgraded(&self) -> Vec<Rc<dyn UpgradedConnection>> {
        self.upgraded
            .borrow()
            .iter()
            .filter_map(|(_, w)| w.upgrade())
            .collect()
    }

    pub(crate) fn unregister(&self, key: usize) {
        let empty = {
            let mut conns = self.conns.borrow_mut();
            conns.try_remove(key);
            conns.is_empty()
        };
        if empty && let Some(sweeper) = self.sweeper.borrow_mut().take() {
            sweeper.stop();
        }
    }

    fn start_sweeper(self: &Rc<Self>) {
        let Some(idle) = self.idle_timeout else {
            return;
        };
        if self.sweeper.borrow().is_some() {
            return;
        }
        // A quarter of the timeout, within [10 ms, 1 s]: an idle connection closes at
        // most that late.
        let period = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let me = Rc::downgrade(self);
        let sweep = move || {
            if let Some(me) = me.upgrade() {
                let now = Instant::now();
                for conn in me.live() {
                    conn.sweep(now);
                }
            }
        };
        match PeriodicCallback::new(sweep, period) {
            Ok(pc) => {
                pc.start();
                *self.sweeper.borrow_mut() = Some(pc);
            }
            Err(e) => log::error!("cannot start the idle-connection sweep: {e}"),
        }
    }

    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.get()
    }

    pub(crate) fn live(&self) -> Vec<Rc<dyn Tracked>> {
        self.conns
            .borrow()
            .iter()
            .filter_map(|(_, w)| w.upgrade())
            .collect()
    }

    pub(crate) fn connection_count(&self) -> usize {
        let conns = self.conns.borrow();
        let plain = conns.iter().filter(|(_, w)| w.strong_count() > 0).count();
        let upgraded = self.upgraded.borrow();
        plain
            + upgraded
                .iter()
                .filter(|(_, w)| w.strong_count() > 0)
                .count()
    }

    /// Closes every connection now. Upgraded connections stop being counted here, even
    /// if their protocol's task has not ended yet (its handler may be waiting on
    /// something other than the socket): a shutdown past its grace does not wait for
    /// them any longer. Their slots stay taken until their guards drop, so no key is
    /// reused while a guard still holds it.
    pub(crate) fn close_all(&self) {
        for conn in self.live() {
            conn.close();
        }
        let upgraded = self.live_upgraded();
        for (_, conn) in self.upgraded.borrow_mut().iter_mut() {
            *conn = Weak::<Gone>::new();
        }
        for conn in upgraded {
            conn.close();
        }
    }

    /// Starts a graceful shutdown on this thread: idle connections close now, busy ones
    /// after their response (sent with `Connection: close`).
    pub(crate) fn begin_shutdown(&self) {
        let first = !self.shutting_down.replace(true);
        for conn in self.live() {
            conn.close_if_idle();
        }
        // Upgraded connections are asked once (those upgraded later, as they come).
        if first {
            for conn in self.live_upgraded() {
                conn.shutdown();
            }
        }
    }

    /// [`begin_shutdown`](Self::begin_shutdown), then waits in a task of its own until
    /// every connection is gone, force-closing them at `deadline`.
    pub(crate) fn shutdown_in_background(self: &Rc<Self>, deadline: Instant) {
        self.begin_shutdown();
        let me = self.clone();
        IoLoop::current().spawn_callback(async move {
            me.wait_closed(deadline).await;
        });
    }

    pub(crate) async fn wait_closed(&self, deadline: Instant) {
        while self.connection_count() > 0 {
            if Instant::now() >= deadline {
                self.close_all();
                // Let the closed connections' tasks end.
                tornado_gen::moment().await;
                if self.connection_count() > 0 {
                    tornado_gen::sleep(SHUTDOWN_POLL_INTERVAL).await;
                }
                continue;
            }
            tornado_gen::sleep(SHUTDOWN_POLL_INTERVAL).await;
        }
    }
}
