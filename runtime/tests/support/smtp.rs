//! A real SMTP server (`smtp_server.py`: aiosmtpd from PyPI) as a child
//! process: started on a free port, read line by line. `scripts/test`
//! installs the pinned aiosmtpd into the same virtualenv as the webhook
//! tests' library and names its interpreter in `ROOKERY_PYTHON_TOOLS`;
//! without it the default place that script installs to is tried, and the
//! test fails saying so.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long a line may take before the test fails instead of hanging (a
/// guard, not a timing assertion: every line is written before the server
/// answers the command the test already awaited).
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
        "aiosmtpd is not installed: run `scripts/test`, which installs it into {}, \
         or set ROOKERY_PYTHON_TOOLS to a Python that has `aiosmtpd`",
        default.display()
    );
    default
}

/// A running SMTP server.
pub struct SmtpServer {
    port: u16,
    lines: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl SmtpServer {
    /// Starts one; `auth`: it offers AUTH over plain text and records the
    /// login of each message.
    pub async fn start(auth: bool) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let mut command = Command::new(python());
        command.arg(script);
        if auth {
            command.arg("--auth");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut server = Self {
            port: 0,
            lines: BufReader::new(stdout).lines(),
            _child: child,
        };
        let ready = server.next().await;
        server.port = ready["port"].as_u64().expect("the first line names the port") as u16;
        server
    }

    /// `smtp://127.0.0.1:<port>` with `rest` after it (`?tls=none`).
    pub fn url(&self, rest: &str) -> String {
        format!("smtp://127.0.0.1:{}{rest}", self.port)
    }

    /// The next event it recorded.
    pub async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(GUARD, self.lines.next_line())
            .await
            .expect("the SMTP server printed nothing for a minute")
            .expect("read the SMTP server's output")
            .expect("the SMTP server exited");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON from the SMTP server: {line}: {e}"))
    }

    /// The next event that is a delivered message (skipping the
    /// recipients' answers before it).
    pub async fn next_message(&mut self) -> Value {
        loop {
            let event = self.next().await;
            if event["event"] == "message" {
                return event;
            }
        }
    }
}
