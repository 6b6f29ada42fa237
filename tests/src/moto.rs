//! The local AWS emulator: one `moto_server` per process, started on a free 127.0.0.1 port.
//!
//! The child is spawned from a thread that lives as long as the process and carries `PR_SET_PDEATHSIG`, so it
//! dies with the test binary (or the local portal) however that ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Moto {
    pub url: String,
    pub port: u16,
}

/// Where the project's own scripts install moto (`scripts/setup`), unless `MOTO_SERVER` says otherwise.
pub fn moto_server_path() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    repo_root().join(".venv/bin/moto_server")
}

/// The Python of moto's virtualenv (beside `moto_server`) and `tests/moto_server.py`, which runs moto's
/// server with its DynamoDB requests one at a time (see that file: moto's `TransactWriteItems` is not safe
/// for concurrent requests, DynamoDB's is).
fn launcher() -> (PathBuf, PathBuf) {
    let bin = moto_server_path();
    let python = bin.with_file_name("python");
    (python, repo_root().join("tests/moto_server.py"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port on 127.0.0.1")
}

impl Moto {
    /// The process-wide emulator, started on first use.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(Moto::start)
    }

    fn start() -> Moto {
        let (bin, script) = launcher();
        assert!(bin.exists(), "moto's Python not found at {}: run ./scripts/setup (or set MOTO_SERVER)", bin.display());
        let port = free_port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("moto".into())
            .spawn(move || {
                let mut cmd = Command::new(bin);
                cmd.arg(&script)
                    .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                #[cfg(target_os = "linux")]
                unsafe {
                    use std::os::unix::process::CommandExt;
                    cmd.pre_exec(|| {
                        // Killed when this (never-ending) thread's process dies.
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                let child = cmd.spawn();
                let ok = child.is_ok();
                let _ = tx.send(child.map(|c| c.id()).map_err(|e| e.to_string()));
                if ok {
                    loop {
                        std::thread::park();
                    }
                }
            })
            .expect("spawn moto thread");
        match rx.recv() {
            Ok(Ok(_pid)) => {}
            Ok(Err(e)) => panic!("could not start moto_server: {e}"),
            Err(e) => panic!("moto thread died: {e}"),
        }
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_get(port, "/moto-api/").is_some() {
                return Moto { url, port };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto_server did not answer on port {port} within 30 s");
    }

    /// `GET /moto-api/data.json`: everything the emulator holds (used to read sent emails back).
    ///
    /// moto answers 500 now and then while another test writes to it (its serialiser meets an S3 key created
    /// mid-dump: "Object of type FakeKey is not JSON serializable"; measured: 2 of 910 dumps with four
    /// writers), so a failed dump is asked again: an empty answer would read as "no email sent".
    pub fn data(&self) -> serde_json::Value {
        for _ in 0..20 {
            if let Some(v) = http_get(self.port, "/moto-api/data.json").and_then(|b| serde_json::from_slice(&b).ok()) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        serde_json::Value::Null
    }
}

/// A minimal blocking HTTP/1.0 GET for the emulator's own API.
fn http_get(port: u16, path: &str) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..split]);
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    Some(buf[split + 4..].to_vec())
}
