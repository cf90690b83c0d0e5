// A Profile client on @grpc/grpc-js (an implementation independent of the app's server), as the
// tests and `npm run grpc` call the edge: h2c with prior knowledge, a bearer token as metadata.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import { PROFILE_PROTO, PROFILE_SERVICE } from "./profile-service.ts";

/** A ProfileReply as the client decodes it; `hops` and `user` are absent when the app left them unset. */
export interface ProfileReply {
  app: string;
  region: string;
  datacenter: string;
  instance: string;
  path: string;
  hops?: number;
  user?: string;
  sequence: number;
  receivedBytes: number;
}

/** What a call ended with: its status, the answer's headers (initial metadata) and trailers. */
export interface CallOutcome<T> {
  replies: T[];
  code: grpc.status;
  details: string;
  /** Response headers (initial metadata); none for an answer without messages, whose one header block is the trailers. */
  headers: Record<string, string>;
  trailers: Record<string, string>;
  ms: number;
}

export interface ProfileCallOptions {
  /** `Bearer <token>` is sent as `authorization` metadata. */
  token?: string;
  /** Overrides `:authority` (a tenant host), as a client of that host would send it. */
  authority?: string;
  metadata?: Record<string, string>;
  deadlineMs?: number;
  /** A method other than Get and Watch of the same service, e.g. to see UNIMPLEMENTED. */
  method?: string;
  /** Another service path than Profile's, with the same messages. */
  service?: string;
}

const definition = protoLoader.loadSync(fileURLToPath(PROFILE_PROTO), { keepCase: false, longs: Number, defaults: true });

function flatten(metadata: grpc.Metadata | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata?.getMap() ?? {})) values[key] = String(value);
  return values;
}

function metadataOf(options: ProfileCallOptions): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (options.token !== undefined) metadata.set("authorization", `Bearer ${options.token}`);
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return metadata;
}

function methodDefinition(name: string, service: string, responseStream: boolean) {
  const known = (definition[PROFILE_SERVICE] as grpc.ServiceDefinition | undefined)?.[responseStream ? "Watch" : "Get"];
  if (!known) throw new Error(`${PROFILE_SERVICE} has no ${responseStream ? "Watch" : "Get"} in the proto`);
  return { ...known, path: `/${service}/${name}` };
}

/**
 * A client of one edge entry: an `http://host:port` POP URL (h2c) or app replica URL, or an
 * `https://host:port` POP TLS URL with the CA that issued its certificate (h2 over TLS; the
 * certificate is checked for the tenant name when a call names one, else for the URL's host).
 */
export class ProfileClient {
  private readonly client: grpc.Client;
  private readonly authorityClients = new Map<string, grpc.Client>();

  constructor(private readonly url: string, private readonly tls?: { caPem: string }) {
    if (url.startsWith("https:") && !tls) throw new Error(`${url}: a TLS entry needs the CA that issued its certificate`);
    this.client = this.connect();
  }

  private connect(authority?: string): grpc.Client {
    const target = new URL(this.url);
    const credentials = this.url.startsWith("https:") ? grpc.credentials.createSsl(Buffer.from(this.tls!.caPem)) : grpc.credentials.createInsecure();
    return new grpc.Client(`${target.hostname}:${target.port}`, credentials, {
      ...(authority !== undefined ? { "grpc.default_authority": authority } : {}),
      ...(authority !== undefined && this.tls ? { "grpc.ssl_target_name_override": authority } : {}),
      // One connection per client, not one shared by every client of the process.
      "grpc.use_local_subchannel_pool": 1,
    });
  }

  private clientFor(authority: string | undefined): grpc.Client {
    if (authority === undefined) return this.client;
    let client = this.authorityClients.get(authority);
    if (!client) {
      client = this.connect(authority);
      this.authorityClients.set(authority, client);
    }
    return client;
  }

  private call<T>(options: ProfileCallOptions, start: (client: grpc.Client, metadata: grpc.Metadata, callOptions: grpc.CallOptions, outcome: CallOutcome<T>, finish: (status: grpc.StatusObject) => void) => grpc.ClientUnaryCall | grpc.ClientReadableStream<T>): Promise<CallOutcome<T>> {
    const started = performance.now();
    const outcome: CallOutcome<T> = { replies: [], code: grpc.status.UNKNOWN, details: "", headers: {}, trailers: {}, ms: 0 };
    const callOptions: grpc.CallOptions = options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {};
    return new Promise((resolve) => {
      const finish = (status: grpc.StatusObject) => {
        outcome.code = status.code;
        outcome.details = status.details;
        outcome.trailers = flatten(status.metadata);
        outcome.ms = performance.now() - started;
        resolve(outcome);
      };
      const call = start(this.clientFor(options.authority), metadataOf(options), callOptions, outcome, finish);
      call.on("metadata", (headers: grpc.Metadata) => (outcome.headers = flatten(headers)));
    });
  }

  /** Calls Get with a `payload` of `payloadBytes` bytes. */
  get(options: ProfileCallOptions & { payloadBytes?: number } = {}): Promise<CallOutcome<ProfileReply>> {
    const method = methodDefinition(options.method ?? "Get", options.service ?? PROFILE_SERVICE, false);
    return this.call<ProfileReply>(options, (client, metadata, callOptions, outcome, finish) => {
      let status: grpc.StatusObject | undefined;
      let answered = false;
      const call = (client.makeUnaryRequest.bind(client) as unknown as (...args: unknown[]) => grpc.ClientUnaryCall)(
        method.path, method.requestSerialize, method.responseDeserialize,
        // An empty payload is left out, as proto3 does for a default value (the reply then counts 0 bytes).
        options.payloadBytes ? { payload: Buffer.alloc(options.payloadBytes) } : {}, metadata, callOptions,
        (_error: grpc.ServiceError | null, reply?: ProfileReply) => {
          if (reply) outcome.replies.push(reply);
          answered = true;
          if (status) finish(status);
        },
      );
      // The status event carries the trailers; the callback may come before or after it.
      call.on("status", (received: grpc.StatusObject) => {
        status = received;
        if (answered) finish(received);
      });
      return call;
    });
  }

  /** Calls Watch for `count` replies `intervalMs` apart and collects them. */
  watch(count: number, intervalMs: number, options: ProfileCallOptions = {}): Promise<CallOutcome<ProfileReply>> {
    const method = methodDefinition(options.method ?? "Watch", options.service ?? PROFILE_SERVICE, true);
    return this.call<ProfileReply>(options, (client, metadata, callOptions, outcome, finish) => {
      const call = (client.makeServerStreamRequest.bind(client) as unknown as (...args: unknown[]) => grpc.ClientReadableStream<ProfileReply>)(
        method.path, method.requestSerialize, method.responseDeserialize, { count, intervalMs }, metadata, callOptions,
      );
      call.on("data", (reply: ProfileReply) => outcome.replies.push(reply));
      call.on("error", () => undefined);
      call.on("status", finish);
      return call;
    });
  }

  close(): void {
    this.client.close();
    for (const client of this.authorityClients.values()) client.close();
  }
}

export { grpc };
