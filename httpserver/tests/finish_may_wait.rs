//! A delegate whose `finish` may wait long (`FINISH_MAY_WAIT`): its end is handed to
//! the connection's task, and it behaves as any other: panics and unfinished responses
//! answer 500, pipelined requests wait their turn, a waiter whose client leaves is
//! dropped, and the writer tells the peer's address.

mod common;

use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Client, serve};
use tornado_httpserver::httputil::HttpServerRequest;
use tornado_httpserver::{
    HttpMessageDelegate, HttpServerConnectionDelegate, HttpServerSettings, Response, ResponseWriter,
};

/// Waiters of `/long` dropped so far.
static DROPPED: AtomicUsize = AtomicUsize::new(0);

struct Dropped;

impl Drop for Dropped {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

struct App;

struct Message(String);

impl HttpServerConnectionDelegate for App {
    type Message = Message;

    fn start_request(self: Rc<Self>, request: &HttpServerRequest) -> Message {
        Message(request.path().to_string())
    }
}

impl HttpMessageDelegate for Message {
    const FINISH_MAY_WAIT: bool = true;

    fn finish(
        self,
        request: HttpServerRequest,
        writer: ResponseWriter,
    ) -> impl Future<Output = ()> {
        self.finish_boxed(request, writer)
    }

    fn finish_boxed(
        self,
        _request: HttpServerRequest,
        writer: ResponseWriter,
    ) -> Pin<Box<dyn Future<Output = ()>>> {
        match self.0.as_str() {
            "/panic-making" => panic!("while making the future"),
            "/panic-polling" => Box::pin(async move {
                let _writer = writer;
                panic!("while polling");
            }),
            "/no-answer" => Box::pin(async move { drop(writer) }),
            "/wait" => Box::pin(async move {
                tornado_gen::sleep(Duration::from_millis(100)).await;
                writer.send(Response::text("waited"));
            }),
            "/long" => Box::pin(async move {
                let _dropped = Dropped;
                tornado_gen::sleep(Duration::from_secs(60)).await;
                writer.send(Response::text("late"));
            }),
            "/peer" => {
                let peer = writer
                    .peer_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                Box::pin(async move { writer.send(Response::text(peer)) })
            }
            _ => Box::pin(async move { writer.send(Response::text("hello")) }),
        }
    }
}

fn get(client: &mut Client, path: &str) -> (u16, String) {
    client.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    let r = client.read_response();
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

#[test]
fn panics_and_missing_answers_are_500() {
    serve(App, HttpServerSettings::default(), |addr| {
        for path in ["/panic-making", "/panic-polling", "/no-answer"] {
            let mut client = Client::connect(addr);
            assert_eq!(get(&mut client, path).0, 500, "{path}");
        }
    });
}

#[test]
fn a_pipelined_request_waits_for_the_waiting_one() {
    serve(App, HttpServerSettings::default(), |addr| {
        let mut client = Client::connect(addr);
        client.send(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let first = client.read_response();
        let second = client.read_response();
        assert_eq!((first.status, &first.body[..]), (200, &b"waited"[..]));
        assert_eq!((second.status, &second.body[..]), (200, &b"hello"[..]));
        // The connection goes on.
        assert_eq!(get(&mut client, "/"), (200, "hello".to_string()));
    });
}

#[test]
fn a_waiter_whose_client_leaves_is_dropped() {
    serve(App, HttpServerSettings::default(), |addr: SocketAddr| {
        let before = DROPPED.load(Ordering::SeqCst);
        let mut client = Client::connect(addr);
        client.send(b"GET /long HTTP/1.1\r\nHost: x\r\n\r\n");
        // Still waiting while the client stays.
        let mut probe = Client::connect(addr);
        assert_eq!(get(&mut probe, "/"), (200, "hello".to_string()));
        assert_eq!(DROPPED.load(Ordering::SeqCst), before);
        drop(client);
        let deadline = Instant::now() + Duration::from_secs(10);
        while DROPPED.load(Ordering::SeqCst) == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(DROPPED.load(Ordering::SeqCst), before + 1);
    });
}

#[test]
fn the_writer_tells_the_peer_address() {
    serve(App, HttpServerSettings::default(), |addr| {
        let stream = TcpStream::connect(addr).expect("connect");
        let local = stream.local_addr().unwrap();
        let mut client = Client::from_stream(stream);
        assert_eq!(get(&mut client, "/peer"), (200, local.to_string()));
    });
}

/// Requests without a body are started as their heads arrive, with no future for
/// reading them; requests with one are read first. Pipelined together on one
/// connection they are answered in order, and a bodiless request that asks for
/// `100 Continue` gets none (there is no body to wait for).
#[test]
fn requests_with_and_without_bodies_mix_on_one_connection() {
    serve(App, HttpServerSettings::default(), |addr| {
        let mut client = Client::connect(addr);
        client.send(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
              POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
              POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n\
              GET /d HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n\
              POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
              GET /wait HTTP/1.1\r\nHost: x\r\n\r\n\
              HEAD /f HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        let mut bodies = Vec::new();
        for _ in 0..6 {
            let r = client.read_response();
            assert_eq!(r.status, 200, "{bodies:?}");
            bodies.push(String::from_utf8_lossy(&r.body).into_owned());
        }
        assert_eq!(
            bodies,
            ["hello", "hello", "hello", "hello", "hello", "waited"]
        );
        let head = client.read_response_to(true);
        assert_eq!((head.status, head.body.len()), (200, 0));
        assert_eq!(get(&mut client, "/"), (200, "hello".to_string()));
    });
}
