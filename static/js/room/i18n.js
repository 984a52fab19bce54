// UI strings from the server's message catalogue (/i18n/{locale}.json, the same JSON files
// the server renders pages with). t("room.key", {name}) fills Python-style {name} fields.

let messages = {};
let currentLocale = "ru";

export async function loadCatalogue(locale) {
  currentLocale = locale === "en" ? "en" : "ru";
  const response = await fetch(`/i18n/${currentLocale}.json`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`catalogue ${currentLocale}: HTTP ${response.status}`);
  messages = await response.json();
  return messages;
}

export function locale() {
  return currentLocale;
}

export function t(key, params = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The human message of an error from an acknowledgement, in the page's language. */
export function errorMessage(error) {
  if (!error) return t("room.error.unknown");
  const localized = currentLocale === "en" ? error.message_en : error.message_ru;
  return localized || error.message || t("room.error.unknown");
}

const TIME = { hour: "2-digit", minute: "2-digit" };

export function clockTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString(currentLocale === "en" ? "en-GB" : "ru-RU", { ...TIME, timeZone: "Europe/Moscow" });
}

/** 75 -> "01:15", 3725 -> "1:02:05" */
export function duration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
