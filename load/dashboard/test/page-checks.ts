// What the dashboard page must show, checked in a real browser against any running edge: the
// loopback one (dashboard-loopback.test.ts) and a Docker deploy (infra/test/e2e/dashboard.test.ts)
// run the same checks. The caller says how to stop and start a POP or a datacenter.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Browser, Page, Request } from "playwright-core";
import type { DeployOutputs, PopOutput } from "../../../infra/deploy-outputs.ts";

/**
 * A stopped node must show within this. The server reads every POP four times a second and pushes a
 * reading that changes any health to the page at once (/api/events).
 */
export const DRAWN_DOWN_WITHIN_MS = 2000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class DashboardPage {
  private constructor(
    readonly page: Page,
    readonly outputs: DeployOutputs,
  ) {}

  static async open(browser: Browser, url: string, outputs: DeployOutputs): Promise<DashboardPage> {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    assert.deepEqual(errors, [], "the page threw");
    return new DashboardPage(page, outputs);
  }

  /** Polls `read` until `done` holds; returns the elapsed ms, or throws with the last value after `timeoutMs`. */
  async waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<number> {
    const started = Date.now();
    let last: T | undefined;
    while (Date.now() - started < timeoutMs) {
      last = await read();
      if (done(last)) return Date.now() - started;
      await sleep(50);
    }
    throw new assert.AssertionError({ message: `${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})` });
  }

  /** How many requests the page sent to `path` while `during` ran. */
  async requestsTo(path: string, during: () => Promise<unknown>): Promise<number> {
    let count = 0;
    const counted = (request: Request) => {
      if (new URL(request.url()).pathname === path) count++;
    };
    this.page.on("request", counted);
    try {
      await during();
    } finally {
      this.page.off("request", counted);
    }
    return count;
  }

  health(selector: string): Promise<string | null> {
    return this.page.getAttribute(selector, "data-health");
  }

  /** The total in a cell of the decisions table (first number of the cell), or null for "?". */
  async popCount(pop: string, column: string): Promise<number | null> {
    return this.page.evaluate(
      ([id, title]) => {
        const table = document.querySelector("#pop-table")!;
        const index = [...table.querySelectorAll("th")].findIndex((th) => th.textContent === title);
        const cell = table.querySelector(`tr[data-pop="${id}"]`)?.children[index];
        const value = Number.parseInt(cell?.textContent ?? "", 10);
        return Number.isNaN(value) ? null : value;
      },
      [pop, column] as const,
    );
  }

  async matrixCount(entryRegion: string, ownerRegion: string): Promise<number> {
    const text = await this.page.textContent(`#matrix-table tr[data-entry="${entryRegion}"] td[data-owner="${ownerRegion}"]`);
    return Number.parseInt(text ?? "", 10);
  }

  async send(pop: string, identity: string, app: string): Promise<void> {
    await this.page.selectOption("#compose-pop", pop);
    await this.page.selectOption("#compose-identity", identity);
    await this.page.selectOption("#compose-app", app);
    const answered = this.page.waitForResponse((res) => res.url().endsWith("/api/request"));
    await this.page.click("#compose-send");
    assert.equal((await answered).status(), 200, "the composer's request was refused");
    await this.page.waitForSelector(`#request-path[data-entry-pop="${pop}"]`, { timeout: 5000 });
  }

  /** Every region and every POP of the deploy is drawn, and every POP is read as up. */
  async showsTheTopology(): Promise<void> {
    const regions = await this.page.$$eval("svg .region", (nodes) => nodes.map((n) => n.getAttribute("data-region")));
    assert.deepEqual(regions, this.outputs.regions);
    const pops = await this.page.$$eval("svg .pop", (nodes) => nodes.map((n) => n.getAttribute("data-pop")));
    assert.deepEqual(pops, this.outputs.pops.map((p) => p.id));
    for (const region of this.outputs.regions) assert.equal(await this.page.locator(`#dc-${region}`).count(), 1, `datacenter of ${region} drawn`);
    for (const pop of this.outputs.pops) {
      await this.waitFor(`${pop.id} drawn up`, () => this.health(`#pop-${pop.id}`), (h) => h === "up", 5000);
    }
    for (const region of this.outputs.regions) {
      await this.waitFor(`datacenter ${region} drawn up`, () => this.health(`#dc-${region}`), (h) => h === "up", 10_000);
    }
  }

  /** The page shows the states the server pushes: its status line moves on with no request to /api/state. */
  async followsTheServersStream(): Promise<void> {
    const status = () => this.page.textContent("#deploy-status");
    const shown = await status();
    const polls = await this.requestsTo("/api/state", () => this.waitFor("the status line moves on", status, (s) => s !== shown, 3000));
    assert.equal(polls, 0, "the page polled /api/state while the stream was open");
  }

  /**
   * With /api/events refused, the page polls /api/state and still draws every POP up; once the
   * stream answers again, the page opens it anew and stops polling.
   */
  async pollsWhileTheStreamIsRefused(): Promise<void> {
    const events = "**/api/events";
    await this.page.route(events, (route) => route.fulfill({ status: 503, body: "" }));
    await this.page.reload();
    await this.page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    const polls = await this.requestsTo("/api/state", () => sleep(1000));
    assert.ok(polls >= 3, `${polls} requests to /api/state in 1 s without the stream`);
    for (const pop of this.outputs.pops) {
      await this.waitFor(`${pop.id} drawn up from polling`, () => this.health(`#pop-${pop.id}`), (h) => h === "up", 5000);
    }
    const reopened = this.page.waitForResponse((res) => new URL(res.url()).pathname === "/api/events" && res.status() === 200, { timeout: 5000 });
    await this.page.unroute(events);
    await reopened;
    // A poll sent just before the stream opened may still be on its way.
    await sleep(300);
    assert.equal(await this.requestsTo("/api/state", () => sleep(1000)), 0, "the page still polls with the stream open again");
  }

  /** A user of another region entering `entry`: the path has one sideways hop and ends in the owner's datacenter. */
  async drawsACrossRegionRequest(entry: PopOutput, ownerRegion: string, app: string): Promise<void> {
    await this.send(entry.id, `user:${ownerRegion}`, app);
    const path = this.page.locator("#request-path");
    assert.equal(await path.getAttribute("data-hops"), "1");
    assert.equal(await path.getAttribute("data-served-region"), ownerRegion);
    assert.equal(await this.page.locator("#request-path path").count(), 4, "client → entry POP → peer POP → datacenter → replica");
    const peer = await path.getAttribute("data-peer-pop");
    assert.ok(this.outputs.pops.some((p) => p.id === peer && p.region === ownerRegion), `peer POP ${peer} is a POP of ${ownerRegion}`);
    assert.equal(await this.page.locator(`#dc-${ownerRegion}.on-path`).count(), 1, "the owner's datacenter is on the path");
    assert.equal(await this.page.locator(`svg .replica.on-path`).count(), 1, "one replica answered");
    const route = await this.page.textContent("#result-route");
    assert.match(route ?? "", new RegExp(`owner=${ownerRegion};source=jwt;pop=${entry.id};hops=1`));
    assert.match((await this.page.textContent("#result-path")) ?? "", new RegExp(`hops 1 · served by ${ownerRegion}$`));
  }

  /** Requests sent from the composer show in the entry POP's counters and in the route matrix within a few refreshes. */
  async countersRiseAfterTraffic(entry: PopOutput, ownerRegion: string, app: string, requests = 5): Promise<void> {
    const column = `forwarded → ${ownerRegion}`;
    const forwardedBefore = (await this.popCount(entry.id, column)) ?? 0;
    const matrixBefore = await this.matrixCount(entry.region, ownerRegion);
    for (let i = 0; i < requests; i++) await this.send(entry.id, `user:${ownerRegion}`, app);
    await this.waitFor(`${entry.id} ${column} rises by ${requests}`, () => this.popCount(entry.id, column), (n) => n !== null && n >= forwardedBefore + requests, 5000);
    await this.waitFor(`route matrix ${entry.region} x ${ownerRegion} rises by ${requests}`, () => this.matrixCount(entry.region, ownerRegion), (n) => n >= matrixBefore + requests, 5000);
    const rate = await this.page.textContent(`#pop-table tr[data-pop="${entry.id}"]`);
    assert.match(rate ?? "", /\d+\.\d\/s/, "rates are shown");
  }

  /** After `stop`, the POP is drawn down within DRAWN_DOWN_WITHIN_MS and its decisions unknown (never 0); after `start`, up again. */
  async drawsAStoppedPopDown(pop: PopOutput, stop: () => Promise<void>, start: () => Promise<void>): Promise<number> {
    await stop();
    const ms = await this.waitFor(`${pop.id} drawn down`, () => this.health(`#pop-${pop.id}`), (h) => h === "down", DRAWN_DOWN_WITHIN_MS);
    await this.waitFor(`${pop.id} row down`, () => this.page.getAttribute(`#pop-table tr[data-pop="${pop.id}"]`, "data-health"), (h) => h === "down", 1000);
    assert.equal(await this.popCount(pop.id, "routed locally"), null, "a POP that cannot be read shows ?, not 0");
    assert.match((await this.page.textContent(`#pop-${pop.id} .pop-rate`)) ?? "", /\?/);
    await start();
    await this.waitFor(`${pop.id} drawn up again`, () => this.health(`#pop-${pop.id}`), (h) => h === "up", 20_000);
    return ms;
  }

  /** After `stop`, the region's datacenter is drawn down; after `start`, up again. Returns the ms it took to show. */
  async drawsAStoppedDatacenterDown(region: string, stop: () => Promise<void>, start: () => Promise<void>, withinMs: number): Promise<number> {
    await stop();
    const ms = await this.waitFor(`datacenter ${region} drawn down`, () => this.health(`#dc-${region}`), (h) => h === "down", withinMs).catch(async (error: Error) => {
      // What the server said of the datacenter's apps, to tell which app's checks kept it up.
      const state = await this.page.evaluate(async () => (await fetch("/api/state")).json()) as { datacenters: { region: string }[] };
      throw new assert.AssertionError({ message: `${error.message}; server state: ${JSON.stringify(state.datacenters.find((d) => d.region === region))}` });
    });
    await start();
    await this.waitFor(`datacenter ${region} drawn up again`, () => this.health(`#dc-${region}`), (h) => h === "up", 30_000);
    return ms;
  }

  async screenshot(file: string): Promise<void> {
    mkdirSync(dirname(file), { recursive: true });
    await this.page.screenshot({ path: file, fullPage: true });
  }
}
