//! The default error pages: Tornado's plain HTML page, and with `serve_traceback` a
//! page that shows the error, the handler, the request and a backtrace.

use std::fmt::Write as _;

use http::StatusCode;

use crate::context::Context;
use crate::error::Error;

/// Escapes text for HTML (`&`, `<`, `>`, `"`, `'`), as Tornado 6.6's `xhtml_escape`
/// (Python's `html.escape`: `'` as `&#x27;`). Templates escape with the same function.
///
/// ```
/// assert_eq!(tornado_web::xhtml_escape("<a href=\"x\">&'</a>"),
///            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;&lt;/a&gt;");
/// ```
pub fn xhtml_escape(text: &str) -> String {
    crate::template::xhtml_escape(text)
}

/// What [`RequestHandler::write_error`](crate::RequestHandler::write_error) does
/// unless overridden.
pub(crate) fn write_default_error(cx: &mut Context, status: StatusCode, error: Option<&Error>) {
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return;
    }
    // The status line's reason, as Tornado's page shows `_reason`: the error's own,
    // already guarded by `send_error`, or the standard one.
    let reason = cx
        .custom_reason()
        .or(status.canonical_reason())
        .unwrap_or("Unknown");
    let code = status.as_u16();
    let message = xhtml_escape(reason);
    match error {
        Some(e) if cx.settings().serves_traceback() && !e.is_finish() => {
            let page = debug_page(cx, code, &message, e);
            cx.write(page);
        }
        _ => cx.write(format!(
            "<html><title>{code}: {message}</title><body>{code}: {message}</body></html>"
        )),
    }
}

fn debug_page(cx: &Context, code: u16, message: &str, error: &Error) -> String {
    let mut page = String::with_capacity(4096);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html><head><title>{code}: {message}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f4f4f4;\
         padding:1em;overflow:auto}}th{{text-align:left;padding-right:1em}}</style>\
         </head><body>\n<h1>{code}: {message}</h1>\n<table>\
         <tr><th>Error</th><td><pre>{}</pre></td></tr>\
         <tr><th>Handler</th><td><code>{}</code></td></tr>\
         <tr><th>Request</th><td><code>{}</code></td></tr></table>\n",
        xhtml_escape(&error.to_string()),
        xhtml_escape(cx.handler_name()),
        xhtml_escape(&cx.request_summary()),
    );
    match error.backtrace() {
        Some(bt) => {
            let _ = write!(
                page,
                "<h2>Backtrace</h2>\n<pre>{}</pre>\n",
                xhtml_escape(&bt.to_string())
            );
        }
        None => page.push_str("<p>No backtrace was captured for this error.</p>\n"),
    }
    page.push_str("</body></html>\n");
    page
}
