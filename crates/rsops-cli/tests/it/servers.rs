//! Local test servers (cloud KMS mocks, moto, key services): started by the
//! tests that need them, on loopback only, and stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to report that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running server process, killed on drop.
pub struct TestServer {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
}

impl TestServer {
    /// Starts `command`, which must print `PORT <n>` on a line of its
    /// standard output once it accepts connections on 127.0.0.1:n.
    /// Panics (failing the test) when it exits or stays silent too long.
    pub fn start(mut command: Command) -> TestServer {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start test server {command:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("PORT ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => TestServer { child, port },
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("test server {command:?} did not report its port: {other:?}")
            }
        }
    }

    /// Starts one of the Python mock servers in `tests/servers/` with
    /// `args`.
    pub fn python(script: &str, args: &[&str]) -> TestServer {
        let mut c = Command::new(python());
        c.arg(servers_dir().join(script)).args(args);
        TestServer::start(c)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory holding the mock servers' sources.
pub fn servers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers")
}

/// The Python interpreter for the mock servers (`$PYTHON`, else `python3`).
pub fn python() -> PathBuf {
    std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Whether the Python module `module` can be imported; under `CI=true` a
/// missing module fails the test instead of letting it skip.
pub fn python_has(module: &str) -> bool {
    let found = Command::new(python())
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found || std::env::var("CI").as_deref() != Ok("true"),
        "the Python module {module} is required under CI=true (scripts/test.sh installs it)"
    );
    if !found {
        eprintln!("note: Python module {module} not found; skipping");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_mock_plumbing_serves_on_loopback() {
        if !python_has("http.server") {
            return;
        }
        assert!(servers_dir().join("mockhttp.py").is_file());
        let server = TestServer::python("mockhttp.py", &[]);
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.url().trim_start_matches("http://")
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("{\"ok\": true}"), "{reply}");
    }

    #[test]
    fn a_server_that_reports_its_port_is_reachable_and_stopped_on_drop() {
        let mut c = Command::new(python());
        c.args([
            "-c",
            "import socket\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\n\
             print('PORT',s.getsockname()[1],flush=True)\nimport time\ntime.sleep(60)",
        ]);
        let server = TestServer::start(c);
        assert!(std::net::TcpStream::connect(("127.0.0.1", server.port)).is_ok());
        let port = server.port;
        drop(server);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
