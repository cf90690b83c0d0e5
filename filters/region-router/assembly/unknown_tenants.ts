// Hosts discovery answered "unknown tenant" for, kept per VM (worker). They never go to shared data:
// its keys cannot be deleted under ABI 0.2, so a client sending random Host values would grow
// Envoy's memory by one key per host. Here they take at most `capacity` entries.

/**
 * The latest `capacity` unknown-tenant answers of this VM, each until it expires. Answers are
 * written to slots in a ring, so once the ring is full a new answer replaces the oldest one.
 * Invariant: `slots` maps each cached host to the one slot whose `hosts` entry is that host; a
 * slot whose answer was dropped holds "" (never a tenant host).
 */
export class UnknownTenants {
  capacity: i32;
  slots: Map<string, i32> = new Map();
  hosts: Array<string> = [];
  expiries: Array<i64> = [];
  /** The slot the next new answer takes. */
  next: i32 = 0;

  constructor(capacity: i32) {
    this.capacity = capacity;
  }

  /** Whether `host` is a known-unknown tenant at `nowMs`. An expired answer is dropped. */
  has(host: string, nowMs: i64): bool {
    let slots = this.slots;
    if (!slots.has(host)) return false;
    let slot = slots.get(host);
    if (unchecked(this.expiries[slot]) > nowMs) return true;
    slots.delete(host);
    unchecked(this.hosts[slot] = "");
    return false;
  }

  /** Records that `host` is unknown until `expiresAtMs`, replacing the oldest answer when full. */
  add(host: string, expiresAtMs: i64): void {
    let slots = this.slots;
    let hosts = this.hosts;
    if (slots.has(host)) {
      unchecked(this.expiries[slots.get(host)] = expiresAtMs);
      return;
    }
    let slot = this.next;
    this.next = slot + 1 < this.capacity ? slot + 1 : 0;
    slots.set(host, slot);
    if (slot == hosts.length) {
      hosts.push(host);
      this.expiries.push(expiresAtMs);
      return;
    }
    let oldest = unchecked(hosts[slot]);
    if (oldest.length > 0) slots.delete(oldest);
    unchecked(hosts[slot] = host);
    unchecked(this.expiries[slot] = expiresAtMs);
  }
}
