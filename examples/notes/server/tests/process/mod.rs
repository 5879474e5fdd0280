//! `notes` processes for the tests that run several on one database: start
//! one on a URL and a free port, and add a note over a fresh connection
//! (raw HTTP, so that a process killed mid-request is just "no answer").

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `notes` process and the address it listens on.
pub struct Instance {
    pub child: Child,
    pub address: String,
}

/// Starts `notes` on `url`, returning once it listens.
pub fn start(url: &str) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_notes"))
        .args(["--database", url, "--port", "0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run notes");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read stdout");
    let address = line
        .trim()
        .strip_prefix("notes app listening on http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    Instance { child, address }
}

/// `POST /dispatch/addNote{query}` as Mary, of a note whose id and title are
/// `note`: the status and the body, or `None` when no answer came (the
/// process died).
pub async fn add_note(address: &str, query: &str, note: &str) -> Option<(u16, String)> {
    let body = json!({ "id": note, "title": note, "text": "" }).to_string();
    let request = format!(
        "POST /dispatch/addNote{query} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer Mary\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.get(9..12)?.parse().ok()?;
    Some((status, body.to_owned()))
}
