// What the room's Yjs clients (documents.js, board.js) share on the wire: base64 for the
// binary sync messages, and an acknowledged Socket.IO call that always resolves (with a typed
// error when offline or timed out).

export function b64encode(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function b64decode(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function call(socket, name, payload, timeoutMs = 15000) {
  return new Promise((resolve) => {
    if (!socket.connected) {
      resolve({ ok: false, error: { code: "offline" } });
      return;
    }
    socket.timeout(timeoutMs).emit(name, payload, (err, ack) => {
      resolve(err ? { ok: false, error: { code: "timeout" } } : ack || { ok: false, error: { code: "bad_ack" } });
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Apply one y-protocols sync message (base64) to `ydoc`. When it was the server's step 1, the
 * answer holds what we have that the server lacks (made while offline): that update is
 * returned for the caller to send, else null. `Y` gives lib0's encoding/decoding and
 * y-protocols' syncProtocol (the editor bundle).
 */
/** The pending local updates as one sync message (type 0, an update), base64 for doc.sync;
 *  ``update`` is the merged update, kept by the caller to send again after a reconnect. */
export function syncMessage(Y, updates) {
  const update = updates.length === 1 ? updates[0] : Y.Y.mergeUpdates(updates);
  const enc = Y.encoding.createEncoder();
  Y.encoding.writeVarUint(enc, 0);
  Y.syncProtocol.writeUpdate(enc, update);
  return { update, data: b64encode(Y.encoding.toUint8Array(enc)) };
}

export function applySync(Y, data, ydoc, origin) {
  const decoder = Y.decoding.createDecoder(b64decode(data));
  if (Y.decoding.readVarUint(decoder) !== 0) return null;
  const reply = Y.encoding.createEncoder();
  Y.encoding.writeVarUint(reply, 0);
  Y.syncProtocol.readSyncMessage(decoder, reply, ydoc, origin);
  if (Y.encoding.length(reply) <= 1) return null;
  const answer = Y.decoding.createDecoder(Y.encoding.toUint8Array(reply));
  Y.decoding.readVarUint(answer);
  Y.decoding.readVarUint(answer);
  const update = Y.decoding.readVarUint8Array(answer);
  return update.length > 2 ? update : null;
}
