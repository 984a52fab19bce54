// A shared-document client running the real Yjs library (tests only).
// Usage: node client.mjs <url> <smo_session cookie> <meeting id> <doc id> <count> <label> <expected total>
// Joins the meeting, opens the document, appends <count> paragraphs "<label> <i>" while the
// others type, waits until the document has <expected total> paragraphs, prints one JSON line
// {"paragraphs": [...], "acked": n} and exits.
import { io } from "socket.io-client";
import * as Y from "yjs";
import * as syncProtocol from "y-protocols/sync";
import * as encoding from "lib0/encoding";
import * as decoding from "lib0/decoding";

const [url, cookie, meetingArg, docArg, countArg, label, totalArg] = process.argv.slice(2);
const meetingId = Number(meetingArg), docId = Number(docArg), count = Number(countArg), total = Number(totalArg);
const socket = io(url, {
  transports: ["websocket"],
  extraHeaders: { Cookie: `smo_session=${cookie}` },
  reconnection: false,
});
const doc = new Y.Doc();
const fragment = doc.getXmlFragment("prosemirror");
const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const call = (event, payload) => socket.timeout(20000).emitWithAck(event, payload);
const fail = (why) => { console.error(why); process.exit(1); };
let acked = 0;

// One update in flight per document; what accumulates meanwhile is merged and sent next.
let pending = [];
let inflight = false;
async function flush() {
  if (inflight || pending.length === 0) return;
  inflight = true;
  const update = Y.mergeUpdates(pending);
  pending = [];
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  syncProtocol.writeUpdate(enc, update);
  const ack = await call("doc.sync", { doc_id: docId, data: b64(encoding.toUint8Array(enc)) });
  if (!ack.ok) fail(`update rejected: ${JSON.stringify(ack.error)}`);
  acked += 1;
  inflight = false;
  flush();
}

function receive(data) {
  const decoder = decoding.createDecoder(Buffer.from(data, "base64"));
  if (decoding.readVarUint(decoder) !== 0) return;
  const reply = encoding.createEncoder();
  encoding.writeVarUint(reply, 0);
  syncProtocol.readSyncMessage(decoder, reply, doc, "server");
  if (encoding.length(reply) > 1) {
    // the answer to the server's step 1: our step 2
    const answer = decoding.createDecoder(encoding.toUint8Array(reply));
    decoding.readVarUint(answer);
    decoding.readVarUint(answer);
    pending.push(decoding.readVarUint8Array(answer));
    flush();
  }
}

doc.on("update", (update, origin) => {
  if (origin !== "server") {
    pending.push(update);
    flush();
  }
});
socket.on("doc.sync", ({ doc_id, data }) => { if (doc_id === docId) receive(data); });
socket.on("connect_error", (err) => fail(`connect_error ${err.message}`));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
socket.on("connect", async () => {
  const joined = await call("join", { meeting_id: meetingId });
  if (!joined.ok) fail(`join: ${JSON.stringify(joined.error)}`);
  const opened = await call("doc.open", { doc_id: docId });
  if (!opened.ok) fail(`open: ${JSON.stringify(opened.error)}`);
  receive(opened.sync[1]);
  receive(opened.sync[0]);
  for (let i = 0; i < count; i++) {
    doc.transact(() => {
      const paragraph = new Y.XmlElement("paragraph");
      fragment.insert(fragment.length, [paragraph]);
      const text = new Y.XmlText();
      paragraph.insert(0, [text]);
      text.insert(0, `${label} ${i}`);
    });
    await sleep(Math.random() * 15);
  }
  const deadline = Date.now() + 20000;
  while ((fragment.length < total || inflight || pending.length) && Date.now() < deadline) await sleep(20);
  const paragraphs = fragment.toArray().map((p) => p.toArray().map((t) => t.toString()).join(""));
  console.log(JSON.stringify({ paragraphs, acked }));
  socket.disconnect();
  process.exit(0);
});
