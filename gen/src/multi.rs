//! `multi` and friends: run many futures concurrently and gather their outputs.
//!
//! The futures run inside the task that awaits the combinator (they are polled by it,
//! not spawned), so they need not be `'static`. Each wake polls the children that have
//! not finished yet, in input order.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

enum Child<F: Future> {
    Running(Pin<Box<F>>),
    Done(F::Output),
    Taken,
}

impl<F: Future> Child<F> {
    /// Polls a running child; true if it is (now) done.
    fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Child::Running(f) => match f.as_mut().poll(cx) {
                Poll::Ready(v) => {
                    *self = Child::Done(v);
                    true
                }
                Poll::Pending => false,
            },
            _ => true,
        }
    }

    fn is_running(&self) -> bool {
        matches!(self, Child::Running(_))
    }

    fn take(&mut self) -> Option<F::Output> {
        match std::mem::replace(self, Child::Taken) {
            Child::Done(v) => Some(v),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// Polls every running child; returns how many are still running.
fn poll_children<K, F: Future>(children: &mut [(K, Child<F>)], cx: &mut Context<'_>) -> usize {
    let mut running = 0;
    for (_, child) in children.iter_mut() {
        if child.is_running() && !child.poll(cx) {
            running += 1;
        }
    }
    running
}

/// Runs all `futures` concurrently; resolves to their outputs in input order (Tornado's
/// `gen.multi` over a list).
///
/// ```
/// use std::time::Duration;
/// use tornado_gen::{multi, sleep};
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let out = io_loop.run_sync(multi((1..=3u64).rev().map(|i| async move {
///     sleep(Duration::from_millis(i)).await;
///     i * 10
/// })));
/// assert_eq!(out, vec![30, 20, 10]);
/// ```
pub fn multi<I>(futures: I) -> Multi<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    Multi {
        children: futures
            .into_iter()
            .map(|f| ((), Child::Running(Box::pin(f))))
            .collect(),
    }
}

/// The future returned by [`multi`].
#[must_use = "futures do nothing unless awaited"]
pub struct Multi<F: Future> {
    children: Vec<((), Child<F>)>,
}

// The children are boxed and outputs are never pinned, so moving a `Multi` is fine.
impl<F: Future> Unpin for Multi<F> {}

impl<F: Future> Future for Multi<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if poll_children(&mut self.children, cx) > 0 {
            return Poll::Pending;
        }
        Poll::Ready(
            self.children
                .iter_mut()
                .filter_map(|(_, c)| c.take())
                .collect(),
        )
    }
}

impl<F: Future> fmt::Debug for Multi<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_children(f, "Multi", &self.children)
    }
}

fn debug_children<K, F: Future>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    children: &[(K, Child<F>)],
) -> fmt::Result {
    f.debug_struct(name)
        .field("len", &children.len())
        .field(
            "running",
            &children.iter().filter(|(_, c)| c.is_running()).count(),
        )
        .finish()
}

/// Runs keyed futures concurrently; resolves to their outputs under the same keys
/// (Tornado's `gen.multi` over a dict).
///
/// The input is any iterator of `(key, future)` pairs (a `HashMap`, a `BTreeMap`, a
/// `Vec` of pairs); the output is any collection built from `(key, output)` pairs, chosen
/// by the caller's type annotation, as with [`Iterator::collect`].
///
/// ```
/// use std::collections::HashMap;
/// use tornado_gen::multi_map;
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let jobs: HashMap<&str, _> = [("a", 1), ("b", 2)]
///     .into_iter()
///     .map(|(key, n)| (key, async move { n * 10 }))
///     .collect();
/// let out: HashMap<&str, i32> = io_loop.run_sync(multi_map(jobs));
/// assert_eq!(out["a"], 10);
/// assert_eq!(out["b"], 20);
/// ```
pub fn multi_map<K, F, C, I>(futures: I) -> MultiMap<K, F, C>
where
    I: IntoIterator<Item = (K, F)>,
    F: Future,
    C: FromIterator<(K, F::Output)>,
{
    MultiMap {
        children: futures
            .into_iter()
            .map(|(k, f)| (Some(k), Child::Running(Box::pin(f))))
            .collect(),
        out: PhantomData,
    }
}

/// The future returned by [`multi_map`].
#[must_use = "futures do nothing unless awaited"]
pub struct MultiMap<K, F: Future, C> {
    children: Vec<(Option<K>, Child<F>)>,
    out: PhantomData<fn() -> C>,
}

impl<K, F: Future, C> Unpin for MultiMap<K, F, C> {}

impl<K, F, C> Future for MultiMap<K, F, C>
where
    F: Future,
    C: FromIterator<(K, F::Output)>,
{
    type Output = C;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C> {
        if poll_children(&mut self.children, cx) > 0 {
            return Poll::Pending;
        }
        Poll::Ready(
            self.children
                .iter_mut()
                .filter_map(|(k, c)| Some((k.take()?, c.take()?)))
                .collect(),
        )
    }
}

impl<K, F: Future, C> fmt::Debug for MultiMap<K, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_children(f, "MultiMap", &self.children)
    }
}

/// Runs fallible futures concurrently; resolves to all their values in input order, or
/// to the first error as soon as one fails.
///
/// "First" is in completion order (ties go to the lower index). The futures still
/// running when one fails are dropped; spawn them first if they must run to the end.
/// Tornado's `multi` also reports the first error but logs the others:
/// [`try_multi_all`] keeps them all instead.
///
/// ```
/// use tornado_gen::try_multi;
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let ok = io_loop.run_sync(try_multi((1..=2).map(|i| async move { Ok::<_, String>(i) })));
/// assert_eq!(ok, Ok(vec![1, 2]));
/// let bad = io_loop.run_sync(try_multi((0..3).map(|i| async move {
///     if i == 1 { Err(format!("job {i} failed")) } else { Ok(i) }
/// })));
/// assert_eq!(bad, Err("job 1 failed".to_string()));
/// ```
pub fn try_multi<I, T, E>(futures: I) -> TryMulti<I::Item>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    TryMulti {
        inner: multi(futures),
    }
}

/// The future returned by [`try_multi`].
#[must_use = "futures do nothing unless awaited"]
pub struct TryMulti<F: Future> {
    inner: Multi<F>,
}

impl<F, T, E> Future for TryMulti<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let children = &mut self.inner.children;
        let mut running = 0;
        for (_, child) in children.iter_mut() {
            if !child.is_running() {
                continue;
            }
            if !child.poll(cx) {
                running += 1;
                continue;
            }
            if let Child::Done(Err(_)) = child
                && let Some(Err(e)) = child.take()
            {
                children.clear();
                return Poll::Ready(Err(e));
            }
        }
        if running > 0 {
            return Poll::Pending;
        }
        let values = children
            .iter_mut()
            .filter_map(|(_, c)| c.take())
            .filter_map(Result::ok)
            .collect();
        Poll::Ready(Ok(values))
    }
}

impl<F: Future> fmt::Debug for TryMulti<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_children(f, "TryMulti", &self.inner.children)
    }
}

/// Runs fallible futures concurrently to the end; resolves to all values in input
/// order, or, if any failed, to every error with the index of its future.
///
/// ```
/// use tornado_gen::try_multi_all;
/// use tornado_ioloop::IoLoop;
///
/// let io_loop = IoLoop::new().unwrap();
/// let out = io_loop.run_sync(try_multi_all((0..4).map(|i| async move {
///     if i % 2 == 1 { Err(format!("odd {i}")) } else { Ok(i) }
/// })));
/// assert_eq!(out, Err(vec![(1, "odd 1".to_string()), (3, "odd 3".to_string())]));
/// ```
pub fn try_multi_all<I, T, E>(futures: I) -> TryMultiAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    TryMultiAll {
        inner: multi(futures),
    }
}

/// The future returned by [`try_multi_all`].
#[must_use = "futures do nothing unless awaited"]
pub struct TryMultiAll<F: Future> {
    inner: Multi<F>,
}

impl<F, T, E> Future for TryMultiAll<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, Vec<(usize, E)>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let results = match Pin::new(&mut self.inner).poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        let mut values = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(v) => values.push(v),
                Err(e) => errors.push((i, e)),
            }
        }
        Poll::Ready(if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        })
    }
}

impl<F: Future> fmt::Debug for TryMultiAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_children(f, "TryMultiAll", &self.inner.children)
    }
}
