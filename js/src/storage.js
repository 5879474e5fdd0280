// Where a client's pending queue (its outbox: `[{ id, event }]`, oldest first) is kept
// across reloads. A queue storage opens one queue per key (store URL and user) with
// three operations, each per entry, so that two tabs writing the same queue never
// overwrite each other's entries:
//   load()        -> entries, oldest first (or a promise of them)
//   append(entry) -> stores it after the others (an id already stored is left alone)
//   remove(id)    -> forgets it (an id not stored is no error)
// Two kinds: Web Storage (localStorage's interface, synchronous: `webStorageQueue`)
// and IndexedDB (asynchronous: `indexedDBStorage`).

/** Only well-formed entries, `{ id, event }` (a corrupt one is dropped, never thrown). */
const wellFormed = (list) =>
  list.filter((e) => typeof e?.id === "string" && typeof e?.event?.type === "string").map(({ id, event }) => ({ id, event }));

/**
 * The queue under `key` of a Web Storage (`getItem`/`setItem`/`removeItem`): one
 * JSON array. `load` throws when the stored text is not such an array (the client
 * reports it and starts without it).
 */
export function webStorageQueue(storage, key) {
  const read = () => {
    const text = storage.getItem(key);
    if (!text) return [];
    const list = JSON.parse(text);
    if (!Array.isArray(list)) throw new Error("not an array");
    return wellFormed(list);
  };
  // A corrupt value is replaced by the next write rather than blocking every write.
  const readForWrite = () => {
    try {
      return read();
    } catch {
      return [];
    }
  };
  const write = (list) => {
    if (list.length === 0) storage.removeItem(key);
    else storage.setItem(key, JSON.stringify(list));
  };
  return {
    load: read,
    append(entry) {
      const list = readForWrite();
      if (list.some((e) => e.id === entry.id)) return;
      list.push({ id: entry.id, event: entry.event });
      write(list);
    },
    remove(id) {
      const list = readForWrite();
      const rest = list.filter((e) => e.id !== id);
      if (rest.length !== list.length) write(rest);
    },
  };
}

const STORE = "pending";

/** The result of an IndexedDB request as a promise. */
const requested = (request) =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

/**
 * A queue storage in IndexedDB (database `name`, default "flux-capacitor"; one object
 * store, `pending`, shared by every queue): survives reloads, holds far more than
 * localStorage, and is there in workers. Each entry is its own record with an
 * auto-increment key, so appends from two tabs are each atomic and keep their order;
 * a unique index on (queue key, event id) keeps an id once per queue. Pass it as
 * `createClient({ storage: indexedDBStorage() })` (or `storage: "indexeddb"`).
 */
export function indexedDBStorage(options = {}) {
  const { name = "flux-capacitor", indexedDB: idb = globalThis.indexedDB } = options;
  if (!idb || typeof idb.open !== "function") {
    throw new TypeError("indexedDBStorage: there is no IndexedDB here (pass `indexedDB`, or use localStorage)");
  }
  let opening = null;
  const database = () =>
    (opening ??= new Promise((resolve, reject) => {
      const request = idb.open(name, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore(STORE, { autoIncrement: true });
        store.createIndex("queue", "queue");
        store.createIndex("entry", ["queue", "id"], { unique: true });
      };
      request.onsuccess = () => {
        const db = request.result;
        // another page upgrades or deletes the database: let it, reopen on next use
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        opening = null;
        reject(request.error);
      };
      request.onblocked = () => {
        opening = null;
        reject(new Error(`indexedDBStorage: database "${name}" is blocked by another page holding an older version open`));
      };
    }));
  /** Runs `body(store)` in one transaction; resolves to what `body` resolved to, once the transaction committed. */
  const transaction = async (mode, body) => {
    const db = await database();
    const tx = db.transaction(STORE, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("indexedDBStorage: transaction aborted"));
    });
    const result = await body(tx.objectStore(STORE));
    await done;
    return result;
  };
  return {
    /** The queue under `key`. */
    open(key) {
      return {
        load: () =>
          transaction("readonly", async (store) => wellFormed(await requested(store.index("queue").getAll(key)))),
        append: (entry) =>
          transaction("readwrite", async (store) => {
            const existing = await requested(store.index("entry").getKey([key, entry.id]));
            if (existing === undefined) await requested(store.add({ queue: key, id: entry.id, event: entry.event }));
          }),
        remove: (id) =>
          transaction("readwrite", async (store) => {
            const existing = await requested(store.index("entry").getKey([key, id]));
            if (existing !== undefined) await requested(store.delete(existing));
          }),
      };
    },
  };
}

/** The page's localStorage, or null (none, or refused: a sandboxed frame throws on access). */
function pageLocalStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * The queue of a client's `storage` option under `key`, or null (memory only):
 * undefined or "localstorage": the page's localStorage (none in Node: memory only);
 * "indexeddb": `indexedDBStorage()`; an object with `open(key)`: a queue storage; an
 * object with `getItem`: a Web Storage; null: memory only.
 */
export function queueOf(storage, key) {
  if (storage === null) return null;
  if (storage === undefined || storage === "localstorage") {
    const page = pageLocalStorage();
    return page ? webStorageQueue(page, key) : null;
  }
  if (storage === "indexeddb") return indexedDBStorage().open(key);
  if (typeof storage?.open === "function") return storage.open(key);
  if (typeof storage?.getItem === "function") return webStorageQueue(storage, key);
  throw new TypeError(
    'createClient: `storage` must be "localstorage", "indexeddb", a Web Storage (getItem/setItem/removeItem), a queue storage (open(key)), or null',
  );
}
