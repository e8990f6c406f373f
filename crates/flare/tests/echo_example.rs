//! The echo example: two workers on one SO_REUSEPORT port echo every byte back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn echo_example_echoes_on_many_connections() {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples")
        .join("echo");
    assert!(bin.exists(), "echo example not built at {} (`cargo test -p flare` builds examples; `--test` alone does not)", bin.display());
    let mut child = Command::new(bin)
        .args(["--addr", "127.0.0.1:0", "--workers", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.split_whitespace().nth(3).unwrap().to_string();
    let result = std::panic::catch_unwind(|| {
        for i in 0..50 {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let msg = vec![b'a' + (i % 26) as u8; 100_000 + i];
            let mut w = s.try_clone().unwrap();
            let m = msg.clone();
            let writer = std::thread::spawn(move || w.write_all(&m).unwrap());
            let mut got = vec![0u8; msg.len()];
            s.read_exact(&mut got).unwrap();
            writer.join().unwrap();
            assert_eq!(got, msg);
        }
    });
    child.kill().unwrap();
    let _ = child.wait();
    result.unwrap();
}
