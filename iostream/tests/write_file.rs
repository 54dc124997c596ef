//! `IoStream::write_file`: a file region sent with `sendfile(2)`, in order with the
//! bytes around it, over TCP and Unix sockets; a file shorter than its region; streams
//! that cannot send from a file (a pipe) refuse it and stay usable.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

use tornado_iostream::{IoStream, Pipe};

mod common;
use common::{run, tcp_pair};

/// A file of `len` patterned bytes (removed on drop) and its content.
struct TempFile(PathBuf, Vec<u8>);

impl TempFile {
    fn new(tag: &str, len: usize) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("iostream-write-file-{}-{tag}", std::process::id()));
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        TempFile(path, data)
    }

    fn open(&self) -> Rc<File> {
        Rc::new(File::open(&self.0).unwrap())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_region_goes_out_between_the_bytes_around_it() {
    let f = TempFile::new("tcp", 8 * 1024 * 1024 + 17);
    let data = f.1.clone();
    let file = f.open();
    run(async move {
        let (client, server) = tcp_pair().await;
        assert!(server.can_send_file());
        // Larger than the socket's buffers: most of it waits for the reader.
        let (offset, len) = (5usize, data.len() - 9);
        drop(server.write(b"head:"));
        let sent = server.write_file(file.clone(), offset as u64, len as u64);
        drop(server.write(b":tail"));
        assert!(server.write_buffer_len() > 0, "the reader has not read yet");
        let got = client.read_bytes(5 + len + 5, false).await.unwrap();
        sent.await.unwrap();
        server.flush().await.unwrap();
        assert_eq!(&got[..5], b"head:");
        assert!(got[5..5 + len] == data[offset..offset + len]);
        assert_eq!(&got[5 + len..], b":tail");
        // The file's own position was not used: a read starts at 0.
        let mut first = [0u8; 3];
        io::Read::read_exact(&mut &*file, &mut first).unwrap();
        assert_eq!(first, data[..3]);
        // An empty region is nothing.
        server.write_file(file, 0, 0).await.unwrap();
    });
}

#[test]
fn unix_sockets_send_from_files_too() {
    let f = TempFile::new("unix", 300_000);
    let data = f.1.clone();
    let file = f.open();
    run(async move {
        let (a, b) = mio::net::UnixStream::pair().unwrap();
        let (a, b) = (IoStream::new(a).unwrap(), IoStream::new(b).unwrap());
        let sent = a.write_file(file, 0, data.len() as u64);
        let got = b.read_bytes(data.len(), false).await.unwrap();
        sent.await.unwrap();
        assert!(got[..] == data[..]);
    });
}

#[test]
fn a_file_shorter_than_its_region_closes_the_stream() {
    let f = TempFile::new("short", 1000);
    let file = f.open();
    run(async move {
        let (client, server) = tcp_pair().await;
        let err = server.write_file(file, 500, 600).await.unwrap_err();
        assert!(tornado_iostream::is_stream_closed(&err), "{err}");
        assert!(err.to_string().contains("the file ended"), "{err}");
        assert_eq!(
            server.error().map(|e| e.kind()),
            Some(io::ErrorKind::UnexpectedEof)
        );
        // What the file had went out before the close.
        let got = client.read_until_close().await.unwrap();
        assert_eq!(got.len(), 500);
    });
}

#[test]
fn a_pipe_cannot_send_from_a_file_and_stays_usable() {
    let f = TempFile::new("pipe", 10);
    let file = f.open();
    run(async move {
        let (tx, rx) = mio::unix::pipe::new().unwrap();
        let writer = IoStream::new(Pipe::writer(tx)).unwrap();
        let reader = IoStream::new(Pipe::reader(rx)).unwrap();
        assert!(!writer.can_send_file());
        let err = writer.write_file(file, 0, 10).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        writer.write(b"still here").await.unwrap();
        assert_eq!(
            &reader.read_bytes(10, false).await.unwrap()[..],
            b"still here"
        );
    });
}

#[test]
fn a_closed_stream_refuses_a_region() {
    let f = TempFile::new("closed", 10);
    let file = f.open();
    run(async move {
        let (_client, server) = tcp_pair().await;
        server.close();
        assert!(!server.can_send_file());
        let err = server.write_file(file, 0, 10).await.unwrap_err();
        assert!(tornado_iostream::is_stream_closed(&err), "{err}");
    });
}
