// A Server-Sent Events client over fetch. EventSource cannot send an
// Authorization header, so the stream is read and parsed here, following the
// WHATWG "event stream interpretation" rules.

/** Turns the text of an event stream into events; one parser per connection. */
export class EventStreamParser {
  constructor(onEvent, lastEventId = "") {
    this.onEvent = onEvent;
    this.lastEventId = lastEventId;
    this.retry = null;
    this.buffer = "";
    this.type = "";
    this.data = "";
  }

  /** Feed decoded text; complete lines are interpreted, the rest is kept. */
  push(text) {
    this.buffer += text;
    // A trailing CR may be the first half of CRLF, so it waits for the next chunk.
    const lines = this.buffer.split(/\r\n|\r(?!$)|\n/);
    this.buffer = lines.pop();
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data += `${value}\n`;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
  }

  dispatch() {
    const { type, data } = this;
    this.type = "";
    this.data = "";
    if (data === "") return;
    this.onEvent({ type: type || "message", data: data.slice(0, -1), id: this.lastEventId });
  }
}

const MAX_DELAY_MS = 30_000;
// Without a byte for this long the connection is presumed dead (heartbeats
// arrive far more often) and is replaced.
const SILENCE_MS = 45_000;

/**
 * Keeps one authorised stream open: reconnects with exponential backoff and
 * jitter, sends Last-Event-ID so the server can replay what was missed.
 * Callbacks: onEvent(event), onState("connecting" | "live" | "offline"),
 * onOpen({ reconnected }), onUnauthorized().
 */
export class EventStreamClient {
  constructor({ url, token, onEvent, onState, onOpen, onUnauthorized }) {
    Object.assign(this, { url, token, onEvent, onState, onOpen, onUnauthorized });
    this.lastEventId = "";
    this.baseDelay = 1000;
    this.attempt = 0;
    this.opened = 0;
    this.running = false;
    this.controller = null;
    this.retryTimer = null;
    this.silenceTimer = null;
    window.addEventListener("online", () => this.reconnectNow());
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    this.controller?.abort();
    this.onState("offline");
  }

  /** Skip the remaining backoff (e.g. the network came back). */
  reconnectNow() {
    if (!this.running || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  async connect() {
    this.retryTimer = null;
    const controller = new AbortController();
    this.controller = controller;
    this.onState("connecting");
    const headers = { Accept: "text/event-stream" };
    if (this.token()) headers.Authorization = `Bearer ${this.token()}`;
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;

    let response;
    try {
      response = await fetch(this.url, {
        headers,
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
    } catch {
      this.scheduleRetry(controller);
      return;
    }
    if (response.status === 401) {
      this.running = false;
      this.onState("offline");
      this.onUnauthorized();
      return;
    }
    if (!response.ok || !response.body) {
      this.scheduleRetry(controller);
      return;
    }

    this.onState("live");
    this.opened += 1;
    this.onOpen({ reconnected: this.opened > 1 });
    const parser = new EventStreamParser((event) => {
      this.lastEventId = event.id;
      this.attempt = 0;
      this.onEvent(event);
    }, this.lastEventId);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    this.armSilenceTimer(controller);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.armSilenceTimer(controller);
        parser.push(decoder.decode(value, { stream: true }));
        if (parser.retry !== null) this.baseDelay = parser.retry;
      }
    } catch {
      // Aborted or the connection dropped: both end in a reconnect below.
    } finally {
      this.lastEventId = parser.lastEventId;
    }
    this.scheduleRetry(controller);
  }

  armSilenceTimer(controller) {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => controller.abort(), SILENCE_MS);
  }

  scheduleRetry(controller) {
    clearTimeout(this.silenceTimer);
    // A stale connection (replaced or stopped) must not schedule anything.
    if (!this.running || controller !== this.controller) return;
    this.onState("offline");
    const delay = Math.min(MAX_DELAY_MS, this.baseDelay * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    const jitter = delay * 0.2 * Math.random();
    this.retryTimer = setTimeout(() => this.connect(), delay + jitter);
  }
}
