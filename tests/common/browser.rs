//! Driving a page in headless Chromium, for the browser tests.
//!
//! [`Browser::launch`] starts the system's Chromium (`$CHROMIUM`, else the first of
//! `chromium`, `chromium-browser`, `google-chrome`, `google-chrome-stable` on `PATH`)
//! headless, with `--no-sandbox` when running as root, and speaks the DevTools
//! protocol to it through `headless_chrome` (which downloads nothing: its `fetch`
//! feature is off). Without a Chromium it returns [`NotInstalled`], whose message the
//! test prints before passing. [`Browser::open`] gives a [`Page`] (a tab) on a URL;
//! a page types into inputs, clicks, evaluates JavaScript, and waits for a condition
//! by polling it.
//!
//! Nothing here can hang a test: every wait polls against a deadline
//! ([`WAIT_LIMIT`] unless given), and a browser session lives at most
//! [`SESSION_LIMIT`]: then a watchdog kills Chromium, so whatever call is in flight
//! fails at once. The process is killed when the [`Browser`] is dropped, too.
//!
//! ```ignore
//! let browser = match browser::Browser::launch() {
//!     Ok(browser) => browser,
//!     Err(skip) => return eprintln!("{skip}"),
//! };
//! let page = browser.open("http://127.0.0.1:PORT/");
//! page.type_into("#text", "hello");
//! page.click("#send");
//! page.wait_for_text("#messages li", "hello");
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use headless_chrome::browser::tab::point::Point;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::Runtime;
use headless_chrome::protocol::cdp::Target::CreateTarget;
use headless_chrome::{LaunchOptions, Tab};

/// The longest a browser session may last; then Chromium is killed. Each browser test
/// should finish well inside it (the CI budget counts every second).
pub const SESSION_LIMIT: Duration = Duration::from_secs(60);

/// How long [`Page::wait_for`] and the waits built on it poll before they fail.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// How much of the page's text a failure message quotes.
const PAGE_TEXT_LIMIT: usize = 2000;

/// How often a wait evaluates its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The program names searched on `PATH`, in order, when `$CHROMIUM` is unset.
const CANDIDATES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// No Chromium on this machine: the test says so and passes.
#[derive(Debug)]
pub struct NotInstalled;

impl fmt::Display for NotInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SKIPPED: chromium not installed (apt-get install chromium)")
    }
}

/// A headless Chromium process and the DevTools connection to it; killed on drop.
pub struct Browser {
    watchdog: Watchdog,
    /// `None` only while dropping.
    inner: Option<headless_chrome::Browser>,
    binary: PathBuf,
    profile: PathBuf,
    deadline: Instant,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("binary", &self.binary)
            .field("pid", &self.chrome().get_process_id())
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts headless Chromium, or says that there is none to start. A Chromium that
    /// is there but fails to start is a failure (a panic), not a skip.
    pub fn launch() -> Result<Browser, NotInstalled> {
        let binary = find_chromium().ok_or(NotInstalled)?;
        let profile = new_profile_dir();
        let options = LaunchOptions {
            headless: true,
            sandbox: !running_as_root(),
            // Chromium picks a free port and prints it; nothing probes for one.
            port: Some(0),
            path: Some(binary.clone()),
            window_size: Some((1024, 768)),
            user_data_dir: Some(profile.clone()),
            // The connection closes after this long without a message from Chromium,
            // and it bounds each protocol call: the session limit covers both.
            idle_browser_timeout: SESSION_LIMIT,
            ..LaunchOptions::default()
        };
        let inner = match headless_chrome::Browser::new(options) {
            Ok(inner) => inner,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&profile);
                panic!("{} did not start: {e:#}", binary.display());
            }
        };
        let pid = inner
            .get_process_id()
            .expect("a launched browser has a process");
        Ok(Browser {
            watchdog: Watchdog::start(pid, SESSION_LIMIT),
            inner: Some(inner),
            binary,
            profile,
            deadline: Instant::now() + SESSION_LIMIT,
        })
    }

    fn chrome(&self) -> &headless_chrome::Browser {
        self.inner.as_ref().expect("the browser is not dropped yet")
    }

    /// The Chromium binary in use.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Opens a new tab on `url` and waits for it to load.
    pub fn open(&self, url: &str) -> Page {
        let tab = self
            .chrome()
            .new_tab_with_options(CreateTarget {
                url: url.to_owned(),
                left: None,
                top: None,
                width: None,
                height: None,
                window_state: None,
                browser_context_id: None,
                enable_begin_frame_control: None,
                new_window: None,
                background: None,
                for_tab: None,
                hidden: None,
            })
            .unwrap_or_else(|e| panic!("cannot open a tab on {url}: {e:#}"));
        tab.set_default_timeout(WAIT_LIMIT);
        let page = Page {
            tab,
            url: url.to_owned(),
            deadline: self.deadline,
        };
        // An unreachable URL leaves an error page (chrome-error://), not this one.
        page.wait_for(
            "the page to load",
            &format!(
                "document.readyState === 'complete' && location.href === new URL({}).href",
                js_string(url)
            ),
        );
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Before `inner` kills and reaps Chromium, after which its pid may be reused.
        self.watchdog.disarm();
        drop(self.inner.take());
        // Chromium's helper processes outlive the browser process by a moment and
        // write into the profile meanwhile, so a single removal can fail.
        for _ in 0..40 {
            match std::fs::remove_dir_all(&self.profile) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    thread::sleep(Duration::from_millis(50))
                }
                _ => break,
            }
        }
    }
}

/// One tab. Its methods panic with what they were doing and what the page shows
/// when they fail, as a test would.
pub struct Page {
    tab: Arc<Tab>,
    url: String,
    deadline: Instant,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page").field("url", &self.url).finish()
    }
}

/// A condition that did not come true in time.
#[derive(Debug)]
pub struct WaitTimeout {
    /// What was awaited.
    pub what: String,
    /// How long it was awaited.
    pub waited: Duration,
    /// The last error from the browser while polling, if any (a page being
    /// replaced, or the browser gone).
    pub last_error: Option<String>,
    /// The page's visible text when the wait gave up.
    pub page_text: String,
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {}",
            self.waited, self.what
        )?;
        if let Some(error) = &self.last_error {
            write!(f, " (last error: {error})")?;
        }
        write!(f, "; the page shows:\n{}", self.page_text)
    }
}

impl Page {
    /// Focuses the first element matching `selector` (waiting for it to exist) and
    /// types `text` into it: the browser inserts it as a keyboard's input method
    /// does, with trusted `input` events, in one protocol call.
    pub fn type_into(&self, selector: &str, text: &str) {
        self.element_exists(selector);
        let focus = format!(
            "(() => {{ const e = document.querySelector({}); e.scrollIntoView({{block: 'center'}}); e.focus(); return document.activeElement === e; }})()",
            js_string(selector)
        );
        assert_eq!(
            self.eval(&focus),
            true,
            "{}: {selector} cannot take the focus",
            self.url
        );
        self.tab
            .send_character(text)
            .unwrap_or_else(|e| panic!("{}: cannot type into {selector}: {e:#}", self.url));
    }

    /// Clicks the middle of the first element matching `selector` (waiting for it to
    /// exist) with the mouse: a trusted click, as a person's.
    pub fn click(&self, selector: &str) {
        self.element_exists(selector);
        self.bring_to_front();
        let middle = format!(
            "(() => {{ const e = document.querySelector({}); e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            js_string(selector)
        );
        let point = match self.eval(&middle).as_array().map(Vec::as_slice) {
            Some([x, y]) => Point {
                x: x.as_f64().unwrap_or_default(),
                y: y.as_f64().unwrap_or_default(),
            },
            _ => panic!("{}: {selector} has no position", self.url),
        };
        self.tab
            .click_point(point)
            .unwrap_or_else(|e| panic!("{}: cannot click {selector}: {e:#}", self.url));
    }

    /// Presses and releases a key on the focused element ("Enter", "Tab", "a").
    pub fn press_key(&self, key: &str) {
        self.bring_to_front();
        self.tab
            .press_key(key)
            .unwrap_or_else(|e| panic!("{}: cannot press {key}: {e:#}", self.url));
    }

    /// Makes this the tab in front, as a person's mouse and keys reach only the tab
    /// they look at. Chromium renders no frames for a tab behind another, and each
    /// mouse event sent to one waits (about two seconds) for a frame that never comes.
    pub fn bring_to_front(&self) {
        self.tab
            .bring_to_front()
            .unwrap_or_else(|e| panic!("{}: cannot bring the tab to the front: {e:#}", self.url));
    }

    /// Evaluates a JavaScript expression and returns its value as JSON (a promise is
    /// awaited). A thrown exception is a panic with its message.
    pub fn eval(&self, js: &str) -> serde_json::Value {
        self.try_eval(js)
            .unwrap_or_else(|e| panic!("{}: evaluating `{js}`: {e}", self.url))
    }

    /// [`eval`](Self::eval), with the failure as a value.
    pub fn try_eval(&self, js: &str) -> Result<serde_json::Value, String> {
        if Instant::now() > self.deadline {
            return Err(format!("the browser session is over ({SESSION_LIMIT:?})"));
        }
        let answer = self
            .tab
            .call_method(Runtime::Evaluate {
                expression: js.to_owned(),
                object_group: None,
                include_command_line_api: None,
                silent: Some(true),
                context_id: None,
                return_by_value: Some(true),
                generate_preview: None,
                user_gesture: Some(true),
                await_promise: Some(true),
                throw_on_side_effect: None,
                timeout: None,
                disable_breaks: None,
                repl_mode: None,
                allow_unsafe_eval_blocked_by_csp: None,
                unique_context_id: None,
                serialization_options: None,
            })
            .map_err(|e| {
                if Instant::now() >= self.deadline {
                    format!(
                        "{e:#} (the browser session passed {SESSION_LIMIT:?}; Chromium was killed)"
                    )
                } else {
                    format!("{e:#}")
                }
            })?;
        if let Some(exception) = answer.exception_details {
            let message = exception
                .exception
                .and_then(|e| e.description)
                .unwrap_or(exception.text);
            return Err(format!("threw {message}"));
        }
        Ok(answer.result.value.unwrap_or(serde_json::Value::Null))
    }

    /// The text content of every element matching `selector`, in document order.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let js = format!(
            "Array.from(document.querySelectorAll({})).map(e => e.textContent)",
            js_string(selector)
        );
        match self.eval(&js) {
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|item| item.as_str().unwrap_or_default().to_owned())
                .collect(),
            other => panic!("{}: texts of {selector}: {other}", self.url),
        }
    }

    /// Waits until an element matching `selector` exists.
    pub fn element_exists(&self, selector: &str) {
        let js = format!("document.querySelector({}) !== null", js_string(selector));
        self.wait_for(&format!("an element matching {selector}"), &js);
    }

    /// Waits until an element matching `selector` has `text` in its text content.
    pub fn wait_for_text(&self, selector: &str, text: &str) {
        self.wait_for(
            &format!("{text:?} in an element matching {selector}"),
            &text_condition(selector, text),
        );
    }

    /// Waits until the JavaScript expression `condition` is truthy (an exception
    /// counts as false), for at most [`WAIT_LIMIT`]; panics with `what` and the
    /// page's text when it is not.
    pub fn wait_for(&self, what: &str, condition: &str) {
        if let Err(timeout) = self.try_wait_for(what, condition, WAIT_LIMIT) {
            panic!("{}: {timeout}", self.url);
        }
    }

    /// [`wait_for`](Self::wait_for) with its own limit, and the timeout as a value.
    pub fn try_wait_for(
        &self,
        what: &str,
        condition: &str,
        limit: Duration,
    ) -> Result<(), WaitTimeout> {
        let start = Instant::now();
        let deadline = (start + limit).min(self.deadline);
        let truthy = format!(
            "(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"
        );
        let mut last_error = None;
        loop {
            match self.try_eval(&truthy) {
                Ok(serde_json::Value::Bool(true)) => return Ok(()),
                Ok(_) => {}
                Err(e) => last_error = Some(e),
            }
            if Instant::now() >= deadline {
                return Err(WaitTimeout {
                    what: what.to_owned(),
                    waited: start.elapsed(),
                    last_error,
                    page_text: self.page_text(),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// The text a reader sees on the page (for failure messages); what went wrong
    /// when it cannot be had.
    pub fn page_text(&self) -> String {
        match self.try_eval("document.body ? document.body.innerText : ''") {
            Ok(serde_json::Value::String(text)) if text.len() > PAGE_TEXT_LIMIT => {
                let cut = (0..=PAGE_TEXT_LIMIT)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                format!("{}…", &text[..cut])
            }
            Ok(serde_json::Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(e) => format!("(cannot read the page: {e})"),
        }
    }

    /// A PNG of what the page shows, to look at when a test misbehaves.
    pub fn screenshot(&self) -> Vec<u8> {
        self.tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .unwrap_or_else(|e| panic!("{}: screenshot: {e:#}", self.url))
    }
}

/// `text` as a JavaScript string literal (JSON's string syntax is JavaScript's).
pub fn js_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The JavaScript condition "an element matching `selector` contains `text`".
fn text_condition(selector: &str, text: &str) -> String {
    format!(
        "Array.from(document.querySelectorAll({})).some(e => e.textContent.includes({}))",
        js_string(selector),
        js_string(text)
    )
}

/// A new, empty directory for Chromium's profile, under the system's temporary
/// directory.
fn new_profile_dir() -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    loop {
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("tornado-browser-test-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create {}: {e}", dir.display()),
        }
    }
}

/// `$CHROMIUM` (a path, or a name on `PATH`), else the first [`CANDIDATES`] on `PATH`.
/// A `$CHROMIUM` that names nothing runnable is a mistake to report, not a skip.
fn find_chromium() -> Option<PathBuf> {
    if let Some(chosen) = std::env::var_os("CHROMIUM").filter(|v| !v.is_empty()) {
        let found = if Path::new(&chosen).components().count() > 1 {
            Some(PathBuf::from(&chosen)).filter(|p| is_executable(p))
        } else {
            on_path(Path::new(&chosen))
        };
        return Some(
            found.unwrap_or_else(|| panic!("CHROMIUM={chosen:?} is not an executable file")),
        );
    }
    CANDIDATES.iter().find_map(|name| on_path(Path::new(name)))
}

fn on_path(name: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Chromium refuses to run as root with its sandbox on.
fn running_as_root() -> bool {
    // SAFETY: geteuid(2) takes nothing, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() == 0 }
}

/// Kills the browser process when the session limit passes, unless disarmed first.
struct Watchdog {
    /// Whether the browser is still ours to kill, and the signal to stop waiting.
    armed: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    fn start(pid: u32, limit: Duration) -> Watchdog {
        let armed = Arc::new((Mutex::new(true), Condvar::new()));
        let shared = Arc::clone(&armed);
        let thread = thread::spawn(move || {
            let (lock, disarmed) = &*shared;
            let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            let (still_armed, _) = disarmed
                .wait_timeout_while(guard, limit, |armed| *armed)
                .unwrap_or_else(|p| p.into_inner());
            // The lock is held across the kill, so `disarm` (which runs before the
            // process is reaped) cannot let the pid be reused under us.
            if *still_armed {
                eprintln!("browser session over {limit:?}: killing Chromium (pid {pid})");
                // SAFETY: kill(2) on our own child's pid has no memory effects.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        });
        Watchdog {
            armed,
            thread: Some(thread),
        }
    }

    fn disarm(&mut self) {
        let (lock, disarmed) = &*self.armed;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = false;
        disarmed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
