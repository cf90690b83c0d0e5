// Per-VM (worker) sets of hosts, each host until its own expiry, with a number per host: the
// unknown-tenant answers and the hosts whose lookup failed recently (back-off) never go to shared
// data: its keys cannot be deleted under ABI 0.2, so a client sending random Host values would grow
// Envoy's memory by one key per host. The owners this worker knows (region index per host) are a
// copy of fresh shared-data records, so a cache hit needs no host call. Each set takes at most
// `capacity` entries.

/**
 * The latest `capacity` hosts added, each until it expires. Hosts are written to slots in a ring,
 * so once the ring is full a new host replaces the oldest one.
 * Invariant: `slots` maps each held host to the one slot whose `hosts` entry is that host; a slot
 * whose host was dropped holds "" (never a tenant host).
 */
export class HostExpiries {
  capacity: i32;
  slots: Map<string, i32> = new Map();
  hosts: Array<string> = [];
  expiries: Array<i64> = [];
  values: Array<i32> = [];
  /** The slot the next new host takes. */
  next: i32 = 0;

  constructor(capacity: i32) {
    this.capacity = capacity;
  }

  /** Whether `host` is held and not expired at `nowMs`. An expired host is dropped. */
  has(host: string, nowMs: i64): bool {
    return this.find(host, nowMs) >= 0;
  }

  /** The number held with `host` if it is held and not expired at `nowMs`; -1 otherwise. */
  find(host: string, nowMs: i64): i32 {
    let slots = this.slots;
    if (!slots.has(host)) return -1;
    let slot = slots.get(host);
    if (unchecked(this.expiries[slot]) > nowMs) return unchecked(this.values[slot]);
    this.drop(host);
    return -1;
  }

  /** Drops `host` if it is held. */
  drop(host: string): void {
    let slots = this.slots;
    if (!slots.has(host)) return;
    unchecked(this.hosts[slots.get(host)] = "");
    slots.delete(host);
  }

  /** Holds `host` (with `value`, 0 or more) until `expiresAtMs`, replacing the oldest host when full. */
  add(host: string, expiresAtMs: i64, value: i32 = 0): void {
    let slots = this.slots;
    let hosts = this.hosts;
    if (slots.has(host)) {
      let held = slots.get(host);
      unchecked(this.expiries[held] = expiresAtMs);
      unchecked(this.values[held] = value);
      return;
    }
    let slot = this.next;
    this.next = slot + 1 < this.capacity ? slot + 1 : 0;
    slots.set(host, slot);
    if (slot == hosts.length) {
      hosts.push(host);
      this.expiries.push(expiresAtMs);
      this.values.push(value);
      return;
    }
    let oldest = unchecked(hosts[slot]);
    if (oldest.length > 0) slots.delete(oldest);
    unchecked(hosts[slot] = host);
    unchecked(this.expiries[slot] = expiresAtMs);
    unchecked(this.values[slot] = value);
  }
}
