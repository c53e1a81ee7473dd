//! The Standard Webhooks receiver (`webhook_receiver.py`, the official
//! `standardwebhooks` library from PyPI) as a child process: started on a
//! free port, read line by line. `scripts/test` installs the pinned
//! library into a virtualenv and names its interpreter in
//! `ROOKERY_PYTHON_TOOLS`; without it the default place that script
//! installs to is tried, and the test fails saying so.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rookery::webhooks::Secret;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long a line may take before the test fails instead of hanging (a
/// guard, not a timing assertion: every line is written before the
/// receiver answers the request the test already awaited).
const GUARD: Duration = Duration::from_secs(60);

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("ROOKERY_PYTHON_TOOLS") {
        return path.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_default();
    let default = cache.join("rookery/python-tools/bin/python");
    assert!(
        default.exists(),
        "the Standard Webhooks library is not installed: run `scripts/test`, which installs it \
         into {}, or set ROOKERY_PYTHON_TOOLS to a Python that has `standardwebhooks`",
        default.display()
    );
    default
}

/// A running receiver.
pub struct Receiver {
    port: u16,
    lines: Lines<BufReader<ChildStdout>>,
    stdin: ChildStdin,
    _child: Child,
}

impl Receiver {
    /// Starts one that verifies each request with each of `secrets`,
    /// separately, under its name.
    pub async fn start(secrets: &[(&str, &Secret)]) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/webhook_receiver.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(
                secrets
                    .iter()
                    .map(|(name, secret)| format!("{name}={}", secret.expose())),
            )
            .stdout(Stdio::piped())
            .stdin(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the webhook receiver");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut receiver = Self {
            port: 0,
            lines: BufReader::new(stdout).lines(),
            stdin,
            _child: child,
        };
        let ready = receiver.next().await;
        receiver.port = ready["port"].as_u64().expect("the first line names the port") as u16;
        receiver
    }

    /// Verifies each request from now on with `secret` too (`whsec_…`, as
    /// the app showed it), under `name`. Call it while no request is in
    /// flight: the acknowledgement is the next line.
    pub async fn add_secret(&mut self, name: &str, secret: &str) {
        let line = format!("{name}={secret}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to the receiver");
        self.stdin.flush().await.expect("flush the receiver's stdin");
        assert_eq!(self.next().await["secret"], name, "the receiver took the secret");
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request it saw, as it recorded it.
    pub async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(GUARD, self.lines.next_line())
            .await
            .expect("the receiver printed nothing for a minute")
            .expect("read the receiver's output")
            .expect("the receiver exited");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON from the receiver: {line}: {e}"))
    }
}
