// connectLive against a scripted WebSocket: URLs, dedup, resume, backoff, close.
// (examples/notes/web/test/live.test.js runs it against the real notes server.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { CLOSE_BEHIND, connectLive } from "../src/live.js";

/** A WebSocket the test drives by hand. */
class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = new URL(url);
    this.closed = false;
    this.onopen = this.onmessage = this.onerror = this.onclose = null;
    FakeSocket.all.push(this);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.({});
  }
  push(events) {
    this.onmessage?.({ data: JSON.stringify(events) });
  }
  drop(code = 1006, reason = "") {
    this.onclose?.({ code, reason });
  }
  fail() {
    this.onerror?.({ error: new Error("refused") });
    this.onclose?.({ code: 1006, reason: "" });
  }
}

const ev = (seq, type = "addNote") => ({ type, payload: { id: `n${seq}` }, seq, id: `e${seq}`, timestamp: "2026-01-01T00:00:00Z" });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, what) {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting for ${what}`);
}
const fresh = () => {
  FakeSocket.all = [];
  return FakeSocket;
};
const fast = { minDelay: 1, maxDelay: 4, jitter: false };

test("builds the URL: ws scheme, after, token", () => {
  const WebSocket = fresh();
  const live = connectLive({ url: "http://localhost:1234/events/live", after: 7, token: "Mary", onEvents() {}, WebSocket });
  const u = FakeSocket.all[0].url;
  assert.equal(u.protocol, "ws:");
  assert.equal(u.pathname, "/events/live");
  assert.equal(u.searchParams.get("after"), "7");
  assert.equal(u.searchParams.get("token"), "Mary");
  assert.equal(live.lastSeq, 7);
  live.close();
  connectLive({ url: "https://example.test/events/live", onEvents() {}, WebSocket, retry: false }).close();
  assert.equal(FakeSocket.all[1].url.protocol, "wss:");
  assert.equal(FakeSocket.all[1].url.searchParams.get("after"), "0");
  assert.equal(FakeSocket.all[1].url.searchParams.has("token"), false);
});

test("delivers each batch once, skipping events already seen", () => {
  const WebSocket = fresh();
  const got = [];
  const live = connectLive({ url: "ws://h/events/live", onEvents: (b) => got.push(b.map((e) => e.seq)), WebSocket });
  const ws = FakeSocket.all[0];
  ws.open();
  ws.push([ev(1), ev(2)]);
  ws.push([ev(2), ev(3)]); // overlap: only 3 is new
  ws.push([ev(1)]); // nothing new: no call
  ws.push([ev(4)]);
  assert.deepEqual(got, [[1, 2], [3], [4]]);
  assert.equal(live.lastSeq, 4);
  live.close();
});

test("reconnects after a close, resuming from lastSeq", async () => {
  const WebSocket = fresh();
  const got = [];
  const statuses = [];
  const live = connectLive({
    url: "ws://h/events/live", token: "George", WebSocket, retry: fast,
    onEvents: (b) => got.push(...b.map((e) => e.seq)),
    onStatus: (s) => statuses.push(s),
  });
  FakeSocket.all[0].open();
  FakeSocket.all[0].push([ev(1), ev(2)]);
  FakeSocket.all[0].drop();
  await until(() => FakeSocket.all.length === 2, "the reconnect");
  const second = FakeSocket.all[1];
  assert.equal(second.url.searchParams.get("after"), "2");
  assert.equal(second.url.searchParams.get("token"), "George");
  second.open();
  second.push([ev(2), ev(3)]); // a server that resends 2 anyway: still once
  assert.deepEqual(got, [1, 2, 3]);
  assert.deepEqual(statuses, ["connecting", "open", "retrying", "connecting", "open"]);
  live.close();
  assert.equal(live.status, "closed");
});

test("backs off exponentially while the server is down, and resets once connected", async () => {
  const WebSocket = fresh();
  const delays = [];
  const live = connectLive({
    url: "ws://h/events/live", WebSocket, retry: { minDelay: 1, maxDelay: 8, factor: 2, jitter: false },
    onEvents() {},
    onStatus: (s, d) => s === "retrying" && delays.push(d.delay),
  });
  for (let n = 1; n <= 5; n++) {
    FakeSocket.all[n - 1].fail();
    await until(() => FakeSocket.all.length === n + 1, `attempt ${n + 1}`);
  }
  assert.deepEqual(delays, [1, 2, 4, 8, 8]);
  FakeSocket.all[5].open();
  FakeSocket.all[5].drop();
  await until(() => FakeSocket.all.length === 7, "the reconnect after an open");
  assert.equal(delays.at(-1), 1);
  live.close();
});

test("close() stops delivery and reconnects for good", async () => {
  const WebSocket = fresh();
  const got = [];
  const live = connectLive({ url: "ws://h/events/live", WebSocket, retry: fast, onEvents: (b) => got.push(...b) });
  const ws = FakeSocket.all[0];
  ws.open();
  live.close();
  assert.equal(ws.closed, true);
  ws.push([ev(1)]);
  ws.drop();
  await sleep(20);
  assert.equal(FakeSocket.all.length, 1);
  assert.deepEqual(got, []);
  // closing while a reconnect is pending cancels it
  const live2 = connectLive({ url: "ws://h/events/live", WebSocket, retry: { minDelay: 10, jitter: false }, onEvents() {} });
  FakeSocket.all[1].drop();
  live2.close();
  await sleep(30);
  assert.equal(FakeSocket.all.length, 2);
});

test("retry: false gives up after the first close", async () => {
  const WebSocket = fresh();
  const statuses = [];
  const live = connectLive({ url: "ws://h/events/live", WebSocket, retry: false, onEvents() {}, onStatus: (s) => statuses.push(s) });
  FakeSocket.all[0].open();
  FakeSocket.all[0].drop(1000);
  await sleep(10);
  assert.equal(FakeSocket.all.length, 1);
  assert.deepEqual(statuses, ["connecting", "open", "closed"]);
  assert.equal(live.status, "closed");
});

test("a CLOSE_BEHIND close resumes at once from lastSeq, also with retry: false", async () => {
  const WebSocket = fresh();
  const got = [];
  const statuses = [];
  const live = connectLive({
    url: "ws://h/events/live", WebSocket, retry: false,
    onEvents: (b) => got.push(...b.map((e) => e.seq)),
    onStatus: (s, d) => statuses.push([s, d.delay ?? null, d.code ?? null]),
  });
  assert.equal(CLOSE_BEHIND, 4001);
  FakeSocket.all[0].open();
  FakeSocket.all[0].push([ev(1), ev(2)]);
  FakeSocket.all[0].drop(CLOSE_BEHIND, "behind: reconnect with after=2");
  await until(() => FakeSocket.all.length === 2, "the resume");
  assert.equal(FakeSocket.all[1].url.searchParams.get("after"), "2");
  FakeSocket.all[1].open();
  FakeSocket.all[1].push([ev(3)]);
  FakeSocket.all[1].drop(CLOSE_BEHIND);
  await until(() => FakeSocket.all.length === 3, "the second resume (progress was made)");
  assert.equal(FakeSocket.all[2].url.searchParams.get("after"), "3");
  // No progress since the last CLOSE_BEHIND: an ordinary close (retry: false gives up).
  FakeSocket.all[2].open();
  FakeSocket.all[2].drop(CLOSE_BEHIND);
  await sleep(20);
  assert.equal(FakeSocket.all.length, 3);
  assert.deepEqual(got, [1, 2, 3]);
  assert.deepEqual(statuses.filter(([s]) => s !== "connecting"), [
    ["open", null, null],
    ["retrying", 0, CLOSE_BEHIND],
    ["open", null, null],
    ["retrying", 0, CLOSE_BEHIND],
    ["open", null, null],
    ["closed", null, CLOSE_BEHIND],
  ]);
  assert.equal(live.status, "closed");
});

test("a CLOSE_BEHIND close without progress backs off like any other", async () => {
  const WebSocket = fresh();
  const delays = [];
  const live = connectLive({
    url: "ws://h/events/live", WebSocket, retry: { minDelay: 5, maxDelay: 5, jitter: false },
    onEvents() {},
    onStatus: (s, d) => s === "retrying" && delays.push(d.delay),
  });
  FakeSocket.all[0].open();
  FakeSocket.all[0].push([ev(1)]);
  FakeSocket.all[0].drop(CLOSE_BEHIND);
  await until(() => FakeSocket.all.length === 2, "the resume");
  FakeSocket.all[1].open();
  FakeSocket.all[1].drop(CLOSE_BEHIND);
  await until(() => FakeSocket.all.length === 3, "the retry");
  assert.deepEqual(delays, [0, 5]);
  live.close();
});

test("errors from onEvents and bad messages go to onError; delivery goes on", () => {
  const WebSocket = fresh();
  const errors = [];
  const got = [];
  const live = connectLive({
    url: "ws://h/events/live", WebSocket, onError: (e) => errors.push(e),
    onEvents: (b) => {
      if (b[0].seq === 1) throw new Error("boom");
      got.push(...b.map((e) => e.seq));
    },
  });
  const ws = FakeSocket.all[0];
  ws.open();
  ws.push([ev(1)]);
  ws.onmessage({ data: "not json" });
  ws.onmessage({ data: JSON.stringify({ not: "an array" }) });
  ws.onmessage({ data: new TextEncoder().encode(JSON.stringify([ev(2)])) }); // bytes, as some implementations give
  assert.deepEqual(got, [2]);
  assert.equal(errors.length, 3);
  assert.equal(errors[0].message, "boom");
  assert.equal(live.lastSeq, 2);
  live.close();
});

test("checks its arguments", () => {
  assert.throws(() => connectLive({ onEvents() {}, WebSocket: FakeSocket }), TypeError);
  assert.throws(() => connectLive({ url: "ws://h/", WebSocket: FakeSocket }), TypeError);
  assert.throws(() => connectLive({ url: "ws://h/", onEvents() {}, WebSocket: null }), /WebSocket/);
});
