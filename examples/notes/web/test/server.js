// Test helpers: run the real notes server binary, talk to it, cut its
// connections (a TCP proxy), and wait for things.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = resolve(WEB_DIR, "../../..");
/** The built page (scripts/build-notes-web.sh): the directory the server serves. */
export const DIST_DIR = join(WEB_DIR, "dist");
export const NOTES_BIN = process.env.NOTES_BIN ? resolve(process.env.NOTES_BIN) : join(REPO_ROOT, "target/debug/notes");

/** A fresh temporary directory and a `sqlite://` URL of a database file in it. */
export function tempDatabase() {
  const dir = mkdtempSync(join(tmpdir(), "notes-test-"));
  return { dir, url: `sqlite://${join(dir, "notes.db")}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts `notes --database URL --port PORT --host 127.0.0.1 --web DIST_DIR` (`web:
 * null`: no `--web`, the binary's default) and waits for its "notes app listening
 * on http://..." line. Resolves to `{ url, port, child, output(), stop() }`;
 * `stop()` kills it and waits for the exit.
 */
export async function startServer({ database, port = 0, timeout = 60_000, web = DIST_DIR } = {}) {
  if (!existsSync(NOTES_BIN)) {
    throw new Error(`no notes server binary at ${NOTES_BIN}: run \`cargo build -p notes-server\` (or set NOTES_BIN)`);
  }
  const args = ["--database", database, "--port", String(port), "--host", "127.0.0.1", ...(web === null ? [] : ["--web", web])];
  const child = spawn(NOTES_BIN, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" } });
  let log = "";
  let exited = null;
  const exit = new Promise((done) => child.once("exit", (code, signal) => done((exited = { code, signal }))));
  const url = await new Promise((done, fail) => {
    let line = "";
    const timer = setTimeout(() => fail(new Error(`the notes server did not say where it listens within ${timeout} ms:\n${log}`)), timeout);
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => (log += chunk));
    child.stdout.on("data", (chunk) => {
      log += chunk;
      line += chunk;
      const m = /notes app listening on (http:\/\/\S+?)\/?\s/.exec(line);
      if (m) {
        clearTimeout(timer);
        done(m[1]);
      }
    });
    exit.then(({ code, signal }) => {
      clearTimeout(timer);
      fail(new Error(`the notes server exited (code ${code}, signal ${signal}) before listening:\n${log}`));
    });
  });
  const stop = async () => {
    if (exited) return exited;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    const result = await exit;
    clearTimeout(killer);
    return result;
  };
  return { url, port: Number(new URL(url).port), child, output: () => log, stop };
}

/** POST /dispatch/{command} as `user`; resolves to `{ status, body }`. */
export async function dispatch(base, user, command, payload) {
  const response = await fetch(`${base}/dispatch/${command}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${user}` },
    body: JSON.stringify(payload),
  });
  const text = await response.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body };
}

/** GET a JSON resource as `user`. */
export async function getJson(base, path, user = "George") {
  const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${user}` } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort`: `cut()` drops every
 * connection and refuses new ones until `resume(port?)`.
 */
export async function startProxy(targetPort) {
  let target = targetPort;
  let open = true;
  const sockets = new Set();
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    resume(newTarget = target) {
      target = newTarget;
      open = true;
    },
    close: () =>
      new Promise((done) => {
        for (const s of sockets) s.destroy();
        server.close(done);
      }),
  };
}

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Polls `check` (sync or async) until it is truthy; fails with `what` after `timeout` ms. */
export async function until(check, what, timeout = 15_000) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * An HTTP proxy on 127.0.0.1 in front of `targetPort`, for tests that cut some
 * requests the way a cut network does (the connection dropped, no answer) at a
 * real socket, whatever path the request took through the browser:
 * `refuse((method, path) => boolean)` decides per request. `pages` maps paths to
 * HTML the proxy answers itself (a test page on the server's side of the cut).
 * WebSocket upgrades are piped through as they are.
 */
export async function startHttpProxy(targetPort, { pages = {} } = {}) {
  let refused = () => false;
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, "http://proxy").pathname;
    if (pages[path] !== undefined) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(pages[path]);
      return;
    }
    if (refused(req.method, path)) {
      req.socket.destroy();
      return;
    }
    const upstream = http.request({ host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => req.socket.destroy());
    req.pipe(upstream);
  });
  server.on("upgrade", (req, socket, head) => {
    const upstream = net.connect(targetPort, "127.0.0.1", () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        socket.destroy();
        upstream.destroy();
      });
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    refuse(predicate) {
      refused = predicate;
    },
    close: () =>
      new Promise((done) => {
        for (const s of sockets) s.destroy();
        server.close(done);
      }),
  };
}
