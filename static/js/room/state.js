// The room's state: the same fold as the server's snapshot (server/domain/room_state.py,
// served by realtime/meeting/state.py). applyEvent mutates the state in place.
// Client-only extras: floor_since, an agenda item's "since" (start of its running stretch),
// a named poll's votes, the media flags.

export const CHAT_KEEP = 200;

export function emptyState(meetingId) {
  return {
    meeting: { id: meetingId, title: "", status: "scheduled", started_at: null, ended_at: null, locked: false, admission: "open", transcription: false, recording: false },
    last_seq: 0,
    agenda: [],
    current_item_id: null,
    participants: {},
    waiting: [],
    waiting_info: {}, // key -> {name, role}: client-side, from waiting.entered
    hands: [],
    floor: null,
    floor_since: null,
    speaking: [],
    polls: {},
    chat: [],
    media: { mic_locked: false, screen: null },
  };
}

/** Adopt a snapshot from the server ("join" without last_seq). */
export function fromSnapshot(meetingId, snap) {
  const s = emptyState(meetingId);
  Object.assign(s.meeting, snap.meeting || {});
  s.last_seq = snap.last_seq || 0;
  s.agenda = (snap.agenda || []).map((a) => ({ spent_seconds: 0, started_at: null, ended_at: null, ...a }));
  s.current_item_id = snap.current_item_id ?? null;
  for (const a of s.agenda) {
    // The snapshot does not say when a resumed item's current stretch began: its first start
    // minus the time already counted is the best estimate.
    if (a.id === s.current_item_id && a.started_at && a.since === undefined) {
      a.since = new Date(Date.parse(a.started_at) + (a.spent_seconds || 0) * 1000).toISOString();
    }
  }
  for (const [key, p] of Object.entries(snap.participants || {})) {
    s.participants[key] = {
      connected: false, hand_raised_at: null, removed: false, moderator: false, waiting: false, admitted: true, ...p,
    };
  }
  s.waiting = [...(snap.waiting || [])];
  for (const [key, info] of Object.entries(snap.waiting_info || {})) s.waiting_info[key] = info;
  s.hands = [...(snap.hands || [])];
  s.floor = snap.floor ?? null;
  s.floor_since = snap.floor_since ?? null;
  s.speaking = [...(snap.speaking || [])];
  for (const [id, poll] of Object.entries(snap.polls || {})) s.polls[id] = { ballots: 0, status: "draft", ...poll };
  s.chat = (snap.chat || []).map(chatEntry);
  if (snap.media) Object.assign(s.media, snap.media);
  return s;
}

function chatEntry(ev) {
  const p = ev.payload || {};
  return { seq: ev.seq, actor: ev.actor, at: ev.at, text: p.text, reply_to: p.reply_to ?? null, to: p.to ?? null, group: p.group ?? null };
}

function remove(list, key) {
  const i = list.indexOf(key);
  if (i >= 0) list.splice(i, 1);
}

function person(s, key) {
  if (!s.participants[key]) {
    s.participants[key] = {
      name: key, short_name: key, role: key.startsWith("g:") ? "guest" : "member", organisation: "",
      moderator: false, connected: false, hand_raised_at: null, removed: false, waiting: false, admitted: false,
    };
  }
  return s.participants[key];
}

function seconds(from, to) {
  const a = Date.parse(from);
  const b = Date.parse(to);
  // Whole seconds, truncated, as the server counts them.
  return Number.isFinite(a) && Number.isFinite(b) ? Math.max(0, Math.floor((b - a) / 1000)) : 0;
}

function endItem(s, itemId, at) {
  const item = s.agenda.find((a) => a.id === itemId);
  if (item) {
    item.ended_at = at;
    if (item.since) item.spent_seconds = (item.spent_seconds || 0) + seconds(item.since, at);
    item.since = null;
  }
  if (s.current_item_id === itemId) s.current_item_id = null;
}

function lowerHand(s, key) {
  remove(s.hands, key);
  if (s.participants[key]) s.participants[key].hand_raised_at = null;
}

const HANDLERS = {
  "meeting.started": (s, ev) => { s.meeting.status = "live"; s.meeting.started_at = ev.at; },
  "meeting.ended": (s, ev) => {
    s.meeting.status = "ended";
    s.meeting.ended_at = ev.at;
    if (s.current_item_id !== null) endItem(s, s.current_item_id, ev.at);
    for (const key of [...s.hands]) lowerHand(s, key);
    s.floor = null;
    s.floor_since = null;
    s.speaking.length = 0;
    for (const p of Object.values(s.participants)) p.connected = false;
  },
  "participant.joined": (s, ev, p) => {
    const who = person(s, p.participant);
    Object.assign(who, {
      name: p.name, short_name: p.short_name, role: p.role, organisation: p.organisation || "",
      moderator: Boolean(p.moderator) || who.moderator, connected: true, waiting: false, admitted: true,
    });
    remove(s.waiting, p.participant);
  },
  "participant.left": (s, ev, p) => {
    person(s, p.participant).connected = false;
    lowerHand(s, p.participant);
    remove(s.speaking, p.participant);
  },
  "waiting.entered": (s, ev, p) => {
    const who = person(s, p.participant);
    if (!who.connected) Object.assign(who, { name: p.name, short_name: p.short_name || p.name, role: p.role });
    who.waiting = true;
    if (!s.waiting.includes(p.participant)) s.waiting.push(p.participant);
    s.waiting_info[p.participant] = { name: p.name, role: p.role };
  },
  "waiting.admitted": (s, ev, p) => {
    Object.assign(person(s, p.participant), { waiting: false, admitted: true });
    remove(s.waiting, p.participant);
  },
  "waiting.denied": (s, ev, p) => {
    person(s, p.participant).waiting = false;
    remove(s.waiting, p.participant);
  },
  "participant.removed": (s, ev, p) => {
    const who = person(s, p.participant);
    Object.assign(who, { removed: true, waiting: false, admitted: false });
    remove(s.waiting, p.participant);
    lowerHand(s, p.participant);
    if (s.floor === p.participant) { s.floor = null; s.floor_since = null; }
    remove(s.speaking, p.participant);
  },
  "participant.readmitted": (s, ev, p) => { person(s, p.participant).removed = false; },
  "participant.promoted": (s, ev, p) => { person(s, p.participant).moderator = true; },
  "meeting.locked": (s, ev, p) => { s.meeting.locked = p.locked; },
  "meeting.admission": (s, ev, p) => { s.meeting.admission = p.admission; },
  "chat.message": (s, ev) => {
    s.chat.push(chatEntry(ev));
    // The last CHAT_KEEP messages this person may see, as in the server's snapshot.
    while (s.chat.length > CHAT_KEEP) s.chat.shift();
  },
  "hand.raised": (s, ev, p) => {
    if (!s.hands.includes(p.participant)) {
      s.hands.push(p.participant);
      person(s, p.participant).hand_raised_at = ev.at;
    }
  },
  "hand.lowered": (s, ev, p) => lowerHand(s, p.participant),
  "floor.granted": (s, ev, p) => {
    s.floor = p.participant;
    s.floor_since = ev.at;
    lowerHand(s, p.participant);
  },
  "floor.ended": (s, ev, p) => {
    if (s.floor === p.participant) { s.floor = null; s.floor_since = null; }
  },
  "speech.started": (s, ev, p) => { if (!s.speaking.includes(p.participant)) s.speaking.push(p.participant); },
  "speech.ended": (s, ev, p) => remove(s.speaking, p.participant),
  "agenda.item.started": (s, ev, p) => {
    if (s.current_item_id !== null && s.current_item_id !== p.item_id) endItem(s, s.current_item_id, ev.at);
    let item = s.agenda.find((a) => a.id === p.item_id);
    if (!item) {
      item = { id: p.item_id, position: p.position, title: p.title, rapporteur: "", planned_minutes: 0, spent_seconds: 0 };
      s.agenda.push(item);
      s.agenda.sort((a, b) => a.position - b.position);
    }
    item.started_at = item.started_at || ev.at;
    item.ended_at = null;
    item.since = ev.at;
    s.current_item_id = p.item_id;
  },
  "agenda.item.ended": (s, ev, p) => endItem(s, p.item_id, ev.at),
  "poll.created": (s, ev, p) => { s.polls[p.poll_id] = { ...p, status: "draft", ballots: 0, created_at: ev.at }; },
  "poll.opened": (s, ev, p) => {
    const poll = s.polls[p.poll_id];
    if (poll) { poll.status = "open"; poll.opened_at = ev.at; }
  },
  "vote.cast": (s, ev, p) => {
    const poll = s.polls[p.poll_id];
    if (!poll) return;
    poll.ballots = p.ballots;
    if (p.voter) {
      poll.votes = poll.votes || {};
      poll.votes[p.voter] = p.choices || [];
    }
  },
  "poll.closed": (s, ev, p) => {
    const poll = s.polls[p.poll_id];
    if (poll) { poll.status = "closed"; poll.result = p.result; poll.closed_at = ev.at; poll.ballots = p.result.cast; }
  },
  "mic.muted": (s, ev, p) => { if (p.locked) s.media.mic_locked = true; },
  "mic.unlocked": (s) => { s.media.mic_locked = false; },
  "screen.started": (s, ev, p) => { s.media.screen = p.participant; },
  "screen.stopped": (s, ev, p) => { if (s.media.screen === p.participant) s.media.screen = null; },
  "transcription.switched": (s, ev, p) => { s.meeting.transcription = Boolean(p.on); },
  "recording.switched": (s, ev, p) => { s.meeting.recording = Boolean(p.on); },
};

/** Apply one event. Returns false (and changes nothing) for an already-seen seq. */
export function applyEvent(state, ev) {
  if (typeof ev.seq !== "number" || ev.seq <= state.last_seq) return false;
  const fn = HANDLERS[ev.type];
  if (fn) fn(state, ev, ev.payload || {});
  state.last_seq = ev.seq;
  return true;
}

export function displayName(state, key, { short = true } = {}) {
  const p = state.participants[key];
  if (p) return (short ? p.short_name : p.name) || p.name || key;
  const w = state.waiting_info[key];
  return w ? w.name : key;
}

export function isModerator(state, key) {
  const p = state.participants[key];
  return Boolean(p && p.moderator);
}
