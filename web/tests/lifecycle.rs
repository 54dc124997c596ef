//! The life of a request: `on_finish` after every response, `on_connection_close`
//! when a long-polling client leaves (and the waiting method dropped),
//! `get_current_user` and `get_login_url`, and the test timeout of `testing`.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use common::RawClient;
use tornado_gen::locks::Event;
use tornado_web::testing;
use tornado_web::{Application, Context, HttpError, RequestHandler, Settings, url};

type Notes = Rc<RefCell<Vec<String>>>;

/// Records its hooks; `?fail=1` fails.
struct Hooks(Notes);
impl RequestHandler for Hooks {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        self.0.borrow_mut().push("get".to_owned());
        if cx.get_argument_opt("fail")?.is_some() {
            return Err(HttpError::new(400).into());
        }
        cx.write("ok");
        Ok(())
    }
    fn on_finish(&mut self, cx: &mut Context) {
        self.0.borrow_mut().push(format!(
            "on_finish {} finished={}",
            cx.get_status().as_u16(),
            cx.is_finished()
        ));
    }
    fn on_connection_close(&mut self) {
        self.0.borrow_mut().push("on_connection_close".to_owned());
    }
}

/// Records when it is dropped (its future cancelled).
struct DropNote(Notes, &'static str);
impl Drop for DropNote {
    fn drop(&mut self) {
        self.0.borrow_mut().push(self.1.to_owned());
    }
}

/// A long poll: waits for a message that never comes.
struct LongPoll {
    notes: Notes,
    started: Event,
    closed: Event,
    message: Event,
}
impl RequestHandler for LongPoll {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let _guard = DropNote(self.notes.clone(), "get dropped");
        self.started.set();
        self.message.wait().await;
        cx.write("message");
        Ok(())
    }
    fn on_finish(&mut self, _cx: &mut Context) {
        self.notes.borrow_mut().push("on_finish".to_owned());
    }
    fn on_connection_close(&mut self) {
        self.notes
            .borrow_mut()
            .push("on_connection_close".to_owned());
        self.closed.set();
    }
}

/// Finishes its response, then goes on working until `message` is set.
struct AfterFinish {
    notes: Notes,
    message: Event,
}
impl RequestHandler for AfterFinish {
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        cx.write("done");
        cx.finish()?;
        self.message.wait().await;
        self.notes.borrow_mut().push("after finish".to_owned());
        Ok(())
    }
    fn on_finish(&mut self, _cx: &mut Context) {
        self.notes.borrow_mut().push("on_finish".to_owned());
    }
    fn on_connection_close(&mut self) {
        self.notes
            .borrow_mut()
            .push("on_connection_close".to_owned());
    }
}

struct Shared {
    notes: Notes,
    started: Event,
    closed: Event,
    message: Event,
}

fn app(s: &Rc<Shared>) -> Application {
    let (n, s) = (s.notes.clone(), s.clone());
    Application::new(vec![
        url("/hooks", move || Hooks(n.clone())),
        url("/after", {
            let s = s.clone();
            move || AfterFinish {
                notes: s.notes.clone(),
                message: s.message.clone(),
            }
        }),
        url("/poll", move || LongPoll {
            notes: s.notes.clone(),
            started: s.started.clone(),
            closed: s.closed.clone(),
            message: s.message.clone(),
        }),
    ])
}

fn shared() -> Rc<Shared> {
    Rc::new(Shared {
        notes: Rc::default(),
        started: Event::new(),
        closed: Event::new(),
        message: Event::new(),
    })
}

#[test]
fn on_finish_runs_after_every_response() {
    let s = shared();
    let s2 = s.clone();
    testing::run(
        move || app(&s2),
        |t| async move {
            assert_eq!(t.fetch("/hooks").await.code, 200);
            assert_eq!(t.fetch("/hooks?fail=1").await.code, 400);
        },
    );
    assert_eq!(
        *s.notes.borrow(),
        [
            "get",
            "on_finish 200 finished=true",
            "get",
            "on_finish 400 finished=true"
        ]
    );
}

#[test]
fn on_connection_close_when_a_long_poll_client_leaves() {
    let s = shared();
    let s2 = s.clone();
    let s3 = s.clone();
    testing::run(
        move || app(&s2),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.request("GET", "/poll", "").await;
            s3.started.wait().await;
            // The client leaves while the handler waits.
            c.stream.close();
            drop(c);
            s3.closed
                .wait_timeout(Duration::from_secs(2))
                .await
                .expect("on_connection_close within 2 s");
            // The server goes on, and the hooks of a normal request are unchanged.
            assert_eq!(t.fetch("/hooks").await.code, 200);
        },
    );
    let notes = s.notes.borrow();
    assert_eq!(
        *notes,
        [
            "get dropped",
            "on_connection_close",
            "get",
            "on_finish 200 finished=true"
        ]
    );
}

#[test]
fn work_after_finish_goes_on_when_the_client_leaves() {
    let s = shared();
    let s2 = s.clone();
    let s3 = s.clone();
    testing::run(
        move || app(&s2),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.request("GET", "/after", "").await;
            // The response goes out while the handler still works.
            let r = c.read_response(false).await;
            assert_eq!(r.text(), "done");
            c.stream.close();
            drop(c);
            tornado_gen::sleep(Duration::from_millis(50)).await;
            s3.message.set();
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while s3.notes.borrow().len() < 2 && std::time::Instant::now() < deadline {
                tornado_gen::sleep(Duration::from_millis(10)).await;
            }
        },
    );
    assert_eq!(*s.notes.borrow(), ["after finish", "on_finish"]);
}

#[test]
fn a_long_poll_answered_before_the_client_leaves() {
    let s = shared();
    let s2 = s.clone();
    let s3 = s.clone();
    testing::run(
        move || app(&s2),
        |t| async move {
            let c = RawClient::connect(t.addr()).await;
            c.request("GET", "/poll", "").await;
            s3.started.wait().await;
            s3.message.set();
            let r = c.read_response(false).await;
            assert_eq!(r.text(), "message");
            // Leaving after the answer is not a close of the request.
            c.stream.close();
            tornado_gen::sleep(Duration::from_millis(20)).await;
        },
    );
    assert_eq!(*s.notes.borrow(), ["get dropped", "on_finish"]);
}

/// The user comes from a header; `prepare` can replace it.
struct Users;
impl RequestHandler for Users {
    async fn get_current_user(&mut self, cx: &mut Context) -> tornado_web::Result<Option<String>> {
        Ok(cx.request().headers().get("X-User").map(str::to_owned))
    }
    async fn prepare(&mut self, cx: &mut Context) -> tornado_web::Result {
        if cx.current_user() == Some("alias") {
            cx.set_current_user(Some("real name".to_owned()));
        }
        if cx.current_user().is_none() && cx.get_argument_opt("login")?.is_some() {
            let login = self.get_login_url(cx)?;
            return cx.redirect(&login);
        }
        Ok(())
    }
    async fn get(&mut self, cx: &mut Context) -> tornado_web::Result {
        let user = cx.current_user().unwrap_or("anonymous").to_owned();
        cx.write(user);
        Ok(())
    }
}

#[test]
fn current_user_and_login_url() {
    let make = |login_url: Option<&str>| {
        let settings = Settings {
            login_url: login_url.map(str::to_owned),
            ..Settings::default()
        };
        move || Application::with_settings(vec![url("/me", || Users)], settings)
    };
    testing::run(make(Some("/login")), |t| async move {
        let cases = [
            (Some("ann"), "ann"),
            (Some("alias"), "real name"),
            (None, "anonymous"),
        ];
        for (user, want) in cases {
            let mut req = t.request("/me");
            if let Some(u) = user {
                req = req.header("X-User", u);
            }
            assert_eq!(t.fetch_request(req).await.text().unwrap(), want);
        }
        let r = t
            .fetch_request(t.request("/me?login=1").follow_redirects(false))
            .await;
        assert_eq!(r.code, 302);
        assert_eq!(r.headers.get("Location"), Some("/login"));
    });
    // Without the setting, get_login_url is an error: 500.
    testing::run(make(None), |t| async move {
        assert_eq!(t.fetch("/me?login=1").await.code, 500);
    });
}

#[test]
#[should_panic(expected = "did not complete within")]
fn a_hanging_test_fails_at_its_timeout() {
    testing::gen_test_timeout(Duration::from_millis(100), std::future::pending::<()>());
}

#[test]
fn the_timeout_fails_the_test_and_leaves_other_tests_alone() {
    let started = std::time::Instant::now();
    let result = std::panic::catch_unwind(|| {
        testing::gen_test_timeout(Duration::from_millis(50), async {
            tornado_gen::sleep(Duration::from_secs(30)).await;
        })
    });
    let message = match result {
        Ok(()) => panic!("a hanging test passed"),
        Err(payload) => tornado_ioloop::panic_message(&*payload),
    };
    assert!(
        message.contains("did not complete within 50ms"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // The thread can run another test afterwards.
    testing::gen_test(async {
        tornado_gen::sleep(Duration::from_millis(1)).await;
    });
}

#[test]
fn a_client_leaving_before_its_body_is_read_never_reaches_the_handler() {
    let s = shared();
    let s2 = s.clone();
    testing::run(
        move || app(&s2),
        |t| async move {
            // A buffered handler: it starts only once the whole body is in.
            let c = RawClient::connect(t.addr()).await;
            c.send(b"GET /hooks HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npart")
                .await;
            tornado_gen::sleep(Duration::from_millis(20)).await;
            c.stream.close();
            drop(c);
            tornado_gen::sleep(Duration::from_millis(50)).await;
            assert_eq!(t.fetch("/hooks").await.code, 200);
        },
    );
    // As in Tornado, which makes a buffered handler's request only when the body is
    // complete: no hook of a request that never started.
    assert_eq!(*s.notes.borrow(), ["get", "on_finish 200 finished=true"]);
}
