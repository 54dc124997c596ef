//! Turning a caught panic's payload into its message, for logs and errors.

use std::any::Any;

/// The message of a caught panic: the payload of `panic!("...")` (a `&str` or a
/// `String`), or `"non-string panic payload"` for anything else.
///
/// The loop logs every panic it catches (in a callback, a handler, a task, the blocking
/// pool) with this; use it to report panics the same way.
///
/// ```
/// use tornado_ioloop::panic_message;
///
/// let payload = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
/// assert_eq!(panic_message(&*payload), "boom 7");
/// let payload = std::panic::catch_unwind(|| std::panic::panic_any(42)).unwrap_err();
/// assert_eq!(panic_message(&*payload), "non-string panic payload");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
