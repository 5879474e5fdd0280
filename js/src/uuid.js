// Event ids chosen by the client: UUID version 7 (RFC 9562), a 48-bit Unix time in
// milliseconds then random bits, so ids sort roughly by creation and the server's
// per-event ids of one command (the id with its last bits exclusive-ored with the
// event's index) stay as unlikely to collide as the id itself.

const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A new UUID v7 string (lower-case hex, with hyphens); `now` in ms since the epoch. */
export function uuidv7(now = Date.now()) {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  let t = Math.floor(now);
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = 0x70 | (b[6] & 0x0f); // version 7
  b[8] = 0x80 | (b[8] & 0x3f); // variant 10
  let s = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-";
    s += hex[b[i]];
  }
  return s;
}
