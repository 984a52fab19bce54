// One Socket.IO connection per page (WebSocket transport only). Joins the meeting, and on
// every reconnect joins again with the last seq it applied, so the server replays exactly
// the missed events. Events are applied strictly in seq order, each once.

import { io } from "/static/vendor/socket.io/socket.io.esm.min.js";
import { t } from "./i18n.js";

const ACK_TIMEOUT_MS = 15000;
const RETRYABLE = new Set(["timeout", "internal", "not_connected", "bad_ack"]);

export class Connection {
  /**
   * @param {object} opts
   * @param {number} opts.meetingId
   * @param {object} opts.store      Store: hasState, lastSeq, reset(snapshot), apply(event)
   * @param {function} opts.onStatus ("connecting"|"online"|"reconnecting"|"waiting"|"denied"|"removed"|"closed", detail)
   */
  constructor({ meetingId, store, onStatus }) {
    this.meetingId = meetingId;
    this.store = store;
    this.onStatus = onStatus;
    this.joining = false;
    this.generation = 0;
    this.buffer = [];
    this.closed = false; // removed / denied / refused: do not come back by ourselves
    this.participant = null;
    this.moderator = false;
    this.status = "connecting";
    this.socket = io({
      path: "/socket.io/",
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      timeout: 10000,
    });
    this.socket.on("connect", () => this.join());
    this.socket.on("event", (ev) => this.receive(ev));
    this.socket.on("admission", (msg) => this.admission(msg || {}));
    // The person's sessions were ended (an administrator blocked the account): final.
    this.socket.on("session.ended", () => this.close({ reason: "refused" }));
    this.socket.on("disconnect", (reason) => {
      this.generation += 1;
      this.joining = false;
      this.buffer = [];
      if (this.closed) return;
      this.setStatus("reconnecting");
      // The server closed us (e.g. it restarted a namespace): the client will not retry alone.
      if (reason === "io server disconnect") this.socket.connect();
    });
    this.socket.on("connect_error", (err) => {
      if (this.closed) return;
      if (!this.socket.active) {
        // Refused by the server at connect (no valid session): final.
        this.close(err && err.data && err.data.code ? { error: err.data } : { reason: "refused" });
      } else {
        this.setStatus("reconnecting");
      }
    });
  }

  setStatus(status, detail = {}) {
    this.status = status;
    this.onStatus(status, detail);
  }

  close(detail) {
    this.closed = true;
    this.setStatus("closed", detail);
    this.socket.disconnect();
  }

  async join() {
    // The latest join wins: an answer to an older one (before a drop) is ignored.
    const generation = ++this.generation;
    this.joining = true;
    const payload = { meeting_id: this.meetingId };
    if (this.store.hasState) payload.last_seq = this.store.lastSeq;
    const ack = await this.emitRaw("join", payload);
    if (generation !== this.generation || this.closed) return;
    if (!ack.ok) {
      this.joining = false;
      this.buffer = [];
      if (ack.error && RETRYABLE.has(ack.error.code)) {
        // The server did not answer in time or failed for a moment: come back in a while.
        this.setStatus("reconnecting");
        this.socket.disconnect();
        setTimeout(() => { if (!this.closed) this.socket.connect(); }, 2000);
        return;
      }
      this.close({ error: ack.error });
      return;
    }
    this.participant = ack.participant || this.participant;
    this.moderator = Boolean(ack.moderator);
    if (ack.status === "waiting") {
      this.joining = false;
      this.buffer = [];
      this.setStatus("waiting");
      return;
    }
    if (ack.state) this.store.reset(ack.state);
    const pending = [...(ack.events || []), ...this.buffer].sort((a, b) => a.seq - b.seq);
    this.buffer = [];
    this.joining = false;
    for (const ev of pending) this.store.apply(ev);
    this.setStatus("online");
  }

  receive(ev) {
    if (!ev || typeof ev.seq !== "number") return;
    if (this.joining) {
      this.buffer.push(ev);
      return;
    }
    if (this.status !== "online") return; // waiting, denied or removed: not in the room
    this.store.apply(ev); // ignores a seq already applied
  }

  admission({ status }) {
    if (status === "in") {
      // Admitted from the waiting room, or readmitted after a removal: enter (again).
      if (this.status !== "online" || !this.store.hasState) this.join();
    } else if (status === "waiting" || status === "denied" || status === "removed") {
      // Not final: the connection stays, so a later admission («in») brings the page back.
      this.setStatus(status);
    }
  }

  /** Emit with an acknowledgement; resolves {ok:true,...} or {ok:false, error}. Never rejects. */
  emitRaw(name, payload) {
    return new Promise((resolve) => {
      this.socket.timeout(ACK_TIMEOUT_MS).emit(name, payload, (err, ack) => {
        if (err) {
          resolve({ ok: false, error: { code: "timeout", message: t("room.error.timeout") } });
        } else if (!ack || typeof ack !== "object") {
          resolve({ ok: false, error: { code: "bad_ack", message: t("room.error.unknown") } });
        } else {
          resolve(ack);
        }
      });
    });
  }

  /** A room action: refused at once while offline (socket.io would otherwise queue it). */
  async request(name, payload = {}) {
    if (!this.socket.connected || this.status !== "online") {
      return { ok: false, error: { code: "offline", message: t("room.error.offline") } };
    }
    return this.emitRaw(name, payload);
  }
}
