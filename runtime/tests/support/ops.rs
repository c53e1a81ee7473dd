//! The operations tests' real tools (`ops.py`): prometheus_client's
//! parsers of the exposition formats, and Kent, a fake Sentry service.
//! Both come from PyPI into the Python `scripts/test` sets up and names
//! in `ROOKERY_OPS_PYTHON`.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// `runtime/tests/support/ops.py`, from the runtime's tests or (through
/// `#[path]`) the end-to-end crate's: both sit one level below the root.
fn script() -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    root.join("runtime/tests/support/ops.py")
}

/// The Python with `prometheus-client` and `kent`: `ROOKERY_OPS_PYTHON`,
/// else where `scripts/test` installs it.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("ROOKERY_OPS_PYTHON") {
        return path.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME");
    let python = cache.join("rookery/ops-tools-1/bin/python");
    assert!(
        python.exists(),
        "the operations tests need prometheus-client and kent from PyPI: run `scripts/test`, \
         which installs them into {}, or set ROOKERY_OPS_PYTHON",
        python.display()
    );
    python
}

/// One scrape, parsed by prometheus_client.
#[derive(Debug)]
pub struct Scrape {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// `(name, labels, value)`.
    pub samples: Vec<(String, Value, f64)>,
}

impl Scrape {
    /// The value of the sample `name` whose labels include `labels`
    /// (panics unless exactly one matches).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
            .map(|(_, _, v)| *v)
            .collect();
        match found[..] {
            [value] => value,
            _ => panic!("{name} {labels:?}: {found:?} in\n{}", self.text),
        }
    }
}

/// `GET url` with the bearer `token`, parsed as `format`
/// (`prometheus` or `openmetrics`); a body that does not parse panics.
pub fn scrape(url: &str, token: &str, format: &str) -> Scrape {
    let out = Command::new(python())
        .arg(script())
        .args(["scrape", url, token, format])
        .output()
        .expect("run ops.py");
    assert!(
        out.status.success(),
        "ops.py scrape: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    Scrape {
        status: json["status"].as_u64().unwrap() as u16,
        content_type: json["content_type"].as_str().unwrap().to_owned(),
        text: json["text"].as_str().unwrap().to_owned(),
        samples: json["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_owned(),
                    s["labels"].clone(),
                    s["value"].as_f64().unwrap(),
                )
            })
            .collect(),
    }
}

/// Kent, serving on a port of 127.0.0.1 until dropped.
pub struct Kent {
    child: Child,
    pub port: u16,
}

impl Kent {
    /// Starts Kent and returns once it listens.
    pub fn start() -> Self {
        let mut child = Command::new(python())
            .arg(script())
            .args(["kent"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Kent");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("Kent's port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Kent did not start: {line:?}"));
        Self { child, port }
    }

    /// The DSN of Kent's project 1.
    pub fn dsn(&self) -> String {
        format!("http://public@127.0.0.1:{}/1", self.port)
    }

    /// Every event Kent received, each as Kent stores it (`payload.body`
    /// is the event).
    pub fn events(&self) -> Vec<Value> {
        let get = |path: &str| -> Value {
            let out = Command::new(python())
                .arg(script())
                .args(["get", &format!("http://127.0.0.1:{}{path}", self.port)])
                .output()
                .expect("run ops.py");
            assert!(
                out.status.success(),
                "ops.py get: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).expect("JSON")
        };
        get("/api/eventlist/")["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| get(&format!("/api/event/{}", e["event_id"].as_str().unwrap())))
            .collect()
    }
}

impl Drop for Kent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
