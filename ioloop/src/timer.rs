//! The timer heap: deadlines ordered by (deadline, sequence), with O(1) cancellation.
//!
//! A timer lives in a slab; the heap holds `(deadline, seq, key)`. Cancelling removes the
//! slab entry and leaves a stale heap entry behind, which is skipped when it reaches the
//! top. When stale entries outnumber live ones the heap is rebuilt, so cancellation stays
//! amortised O(1) and memory stays bounded (Tornado's `_cancellations` does the same).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use slab::Slab;

use crate::callbacks::Callback;

/// Identifies one scheduled timeout; pass it to
/// [`IoLoop::remove_timeout`](crate::IoLoop::remove_timeout) to cancel it.
///
/// A handle is only a name: holding it keeps nothing alive, and cancelling a timeout that
/// already ran (or was cancelled) does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeoutHandle {
    key: usize,
    seq: u64,
}

struct Entry {
    seq: u64,
    callback: Callback,
}

/// Below this many stale entries the heap is never rebuilt.
const REBUILD_MIN_STALE: usize = 512;

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    entries: Slab<Entry>,
    next_seq: u64,
    stale: usize,
}

impl Timers {
    pub(crate) fn insert(&mut self, deadline: Instant, callback: Callback) -> TimeoutHandle {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.entries.insert(Entry { seq, callback });
        self.heap.push(Reverse((deadline, seq, key)));
        TimeoutHandle { key, seq }
    }

    /// Cancels a timer; returns its callback (to be dropped by the caller outside any
    /// borrow) if it was still pending.
    pub(crate) fn cancel(&mut self, handle: TimeoutHandle) -> Option<Callback> {
        match self.entries.get(handle.key) {
            Some(e) if e.seq == handle.seq => {}
            _ => return None,
        }
        let entry = self.entries.remove(handle.key);
        // If the timer was already popped as due, no heap entry is left to go stale;
        // the count is only a hint for compaction, so a rare overcount is harmless.
        self.stale += 1;
        if self.stale > REBUILD_MIN_STALE && self.stale > self.heap.len() / 2 {
            let entries = &self.entries;
            self.heap
                .retain(|Reverse((_, seq, key))| entries.get(*key).is_some_and(|e| e.seq == *seq));
            self.stale = 0;
        }
        Some(entry.callback)
    }

    /// Moves the handles of every live timer due at `now` into `out`, in
    /// (deadline, insertion) order. The callbacks stay until [`take`](Self::take), so a
    /// timer that runs first can still cancel a later one due in the same batch.
    pub(crate) fn pop_due(&mut self, now: Instant, out: &mut Vec<TimeoutHandle>) {
        while let Some(Reverse((deadline, seq, key))) = self.heap.peek().copied() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            match self.entries.get(key) {
                Some(e) if e.seq == seq => out.push(TimeoutHandle { key, seq }),
                _ => self.stale = self.stale.saturating_sub(1),
            }
        }
    }

    /// Removes a due timer's callback to run it; `None` if it was cancelled meanwhile.
    pub(crate) fn take(&mut self, handle: TimeoutHandle) -> Option<Callback> {
        match self.entries.get(handle.key) {
            Some(e) if e.seq == handle.seq => Some(self.entries.remove(handle.key).callback),
            _ => None,
        }
    }

    /// The earliest live deadline, dropping stale entries found on top.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, seq, key))) = self.heap.peek().copied() {
            if self.entries.get(key).is_some_and(|e| e.seq == seq) {
                return Some(deadline);
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
        None
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn drain(&mut self) -> Vec<Callback> {
        self.heap.clear();
        self.stale = 0;
        self.entries.drain().map(|e| e.callback).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    fn recorder() -> (Rc<RefCell<Vec<u32>>>, impl Fn(u32) -> Callback) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        (log, move |n| {
            let l = l.clone();
            Box::new(move || l.borrow_mut().push(n)) as Callback
        })
    }

    fn run_due(t: &mut Timers, now: Instant) {
        let mut due = Vec::new();
        t.pop_due(now, &mut due);
        for h in due {
            if let Some(cb) = t.take(h) {
                cb();
            }
        }
    }

    #[test]
    fn same_deadline_runs_in_insertion_order() {
        let (log, cb) = recorder();
        let mut t = Timers::default();
        let now = Instant::now();
        let later = now + Duration::from_millis(5);
        t.insert(later, cb(3));
        for i in 0..3 {
            t.insert(now, cb(i));
        }
        run_due(&mut t, later);
        assert_eq!(*log.borrow(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn cancel_is_idempotent_and_heap_is_rebuilt() {
        let (log, cb) = recorder();
        let mut t = Timers::default();
        let now = Instant::now();
        let handles: Vec<_> = (0..2000).map(|i| t.insert(now, cb(i))).collect();
        for h in &handles[..1999] {
            assert!(t.cancel(*h).is_some());
            assert!(t.cancel(*h).is_none());
        }
        assert!(t.heap.len() < 2000, "stale entries were compacted");
        assert_eq!(t.len(), 1);
        run_due(&mut t, now);
        assert_eq!(*log.borrow(), vec![1999]);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn reused_slot_is_not_cancelled_by_an_old_handle() {
        let (log, cb) = recorder();
        let mut t = Timers::default();
        let now = Instant::now();
        let old = t.insert(now, cb(1));
        t.cancel(old);
        let _new = t.insert(now, cb(2));
        assert!(t.cancel(old).is_none());
        run_due(&mut t, now);
        assert_eq!(*log.borrow(), vec![2]);
    }
}
