// A proxy-wasm ABI 0.2.x host for unit tests: runs a compiled filter module in Node's WebAssembly
// engine and answers its host calls the way Envoy does (context switching, header map lifetimes,
// return-by-pointer through the module's `malloc`, result codes).

import { readFile } from "node:fs/promises";

import {
  ABI_SPECIFIC_PROXY_IMPORTS,
  ABI_VERSION_EXPORTS,
  BUFFER_TYPE_MAX,
  BufferType,
  COMMON_PROXY_IMPORTS,
  EXTRA_ENV_IMPORTS,
  FOREIGN_FUNCTIONS,
  HEADER_MAP_TYPE_MAX,
  HeaderMapType,
  LOG_LEVELS,
  METRIC_ID_INCREMENT,
  METRIC_TYPE_MASK,
  METRIC_TYPE_MAX,
  METRIC_TYPE_NAMES,
  MetricType,
  START_PHASE_IMPORTS,
  STREAM_TYPE_MAX,
  StreamType,
  UNSUPPORTED_ABI_EXPORT,
  WASI_IMPORTS,
  WASI_MODULES,
  WasiErrno,
  WasmResult,
  type AbiVersion,
  type LogLevelName,
  type MetricTypeName,
} from "./abi.ts";
import { ProxyWasmLoadError, ProxyWasmTrap } from "./errors.ts";
import { GuestMemory } from "./guest-memory.ts";
import {
  addHeaderValue,
  decodeHeaderPairsLeniently,
  encodeHeaderPairs,
  getHeaderValue,
  headerMapByteSize,
  lowerCaseKeys,
  removeHeaderValues,
  replaceHeaderValue,
  setHeaderPairs,
  type HeaderList,
} from "./header-map.ts";
import { HttpContext, MAX_GRPC_STATUS, type CallOutcome, type CallStatus, type HttpContextHandle, type StreamDriver } from "./http-context.ts";
import { ModuleExit, wasiFunctions } from "./wasi.ts";
import {
  isMemory,
  isRuntimeError,
  webAssembly,
  type HostFunction,
  type ImportObject,
  type WasmInstance,
  type WasmMemory,
  type WasmModule,
  type WasmValue,
} from "./wasm-api.ts";

export interface ProxyWasmHostOptions {
  /** The plugin's root_id; the module reads it as property `plugin_root_id`. */
  rootId: string;
  /** Plugin configuration (Envoy's `configuration`), read by the module in proxy_on_configure. */
  pluginConfig: string;
  /** VM configuration (Envoy's `vm_config.configuration`). */
  vmConfig?: string;
  /** Host clock at load, in ms since the epoch; defaults to the real clock. */
  nowMs?: number;
  /** Envoy's log level: lines below it are dropped, as Envoy drops them. Default "info". */
  logLevel?: LogLevelName;
  /** Properties by NUL-joined path, e.g. "xds\0route_metadata"; they override the plugin_* defaults. */
  properties?: Record<string, string | Uint8Array>;
  /** Clusters Envoy knows; when given, proxy_http_call to any other answers BadArgument, as Envoy does. */
  clusters?: string[];
}

export interface LogEntry {
  level: LogLevelName;
  message: string;
}

export interface HttpCall {
  token: number;
  /** The cluster the call goes to. */
  upstream: string;
  headers: HeaderList;
  body: string;
  /** 0 means no timeout. */
  timeoutMs: number;
  /** Answered through respondHttpCall or failHttpCall. */
  done: boolean;
}

export interface HttpCallResult {
  status: number;
  headers?: HeaderList;
  body?: string;
}

export interface SharedDataEntry {
  value: Uint8Array;
  cas: number;
}

export interface MetricEntry {
  type: MetricTypeName;
  /** Counter: total. Gauge: current value. Histogram: sum of the recorded values. */
  value: number;
  /** Histogram samples in recording order (empty for counters and gauges). */
  records: number[];
}

type Phase = "instantiating" | "starting" | "running";

interface HttpCallResponseState {
  headers: HeaderList;
  body: Uint8Array;
}

interface VmContextState {
  kind: "vm";
  id: 0;
  status: CallStatus;
}

interface RootContextState {
  kind: "root";
  id: number;
  status: CallStatus;
  /** Set only while proxy_on_http_call_response runs for a successful call. */
  httpCallResponse: HttpCallResponseState | null;
}

type ContextState = VmContextState | RootContextState | HttpContext;

const VM_CONTEXT_ID = 0;
const ROOT_CONTEXT_ID = 1;
const MAX_TIMEOUT_MS = 0x7fffffff;
const utf8Encoder = new TextEncoder();

/** Hints for imports a module commonly asks for but Envoy does not provide. */
const MISSING_IMPORT_HINTS: Record<string, string> = {
  "env.abort": "AssemblyScript's default abort; build with `--use abort=abort_proc_exit`",
  "env.proxy_clear_route_cache": "ABI 0.1.0 only; with 0.2.x Envoy clears the route cache itself when request headers change",
  "env.proxy_get_log_level": "registered for ABI 0.2.1 modules only",
  "env.seed": "AssemblyScript's Math.random seed",
  "env.trace": "AssemblyScript's trace()",
};

// Shared across hosts, so hosts that share one sharedData map (two workers of one VM id) never
// hand out the same CAS twice.
let nextSharedDataCas = 1;
function takeSharedDataCas(): number {
  const cas = nextSharedDataCas;
  nextSharedDataCas = (nextSharedDataCas + 1) >>> 0 || 1;
  return cas;
}

const u32 = (value: WasmValue | undefined): number => Number(value ?? 0) >>> 0;

export class ProxyWasmHost {
  readonly logs: LogEntry[] = [];
  readonly httpCalls: HttpCall[] = [];
  /** The timer period the module asked for; 0 = no timer. */
  tickPeriodMs = 0;
  /** Shared data of this VM id. Assign one host's map to another to model two worker VMs. */
  sharedData = new Map<string, SharedDataEntry>();
  readonly metrics = new Map<string, MetricEntry>();
  readonly abiVersion: AbiVersion;

  private readonly options: ProxyWasmHostOptions;
  private readonly logLevelIndex: number;
  private readonly properties: Map<string, Uint8Array>;
  private readonly contexts = new Map<number, ContextState>();
  private readonly vmContext: VmContextState = { kind: "vm", id: VM_CONTEXT_ID, status: { code: 0, message: "" } };
  private readonly metricNames = new Map<number, string>();
  private readonly lastMetricIds = [MetricType.Counter, MetricType.Gauge, MetricType.Histogram] as number[];
  private readonly guest: GuestMemory;
  private instance: WasmInstance | undefined;
  private memory: WasmMemory | undefined;
  private phase: Phase = "instantiating";
  private currentContextId = VM_CONTEXT_ID;
  private effectiveContextId = 0;
  private stopIteration = false;
  private pluginConfigAvailable = false;
  private started = false;
  private nextContextId = ROOT_CONTEXT_ID + 1;
  private nextHttpCallToken = 1;
  private nowNs: bigint;
  private failure: ProxyWasmTrap | undefined;
  private callDepth = 0;
  private pendingLocalReplies: HttpContext[] = [];
  private errorsDuringCall: string[] = [];

  static async load(
    wasmPath: string,
    opts: ProxyWasmHostOptions,
  ): Promise<ProxyWasmHost> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(wasmPath);
    } catch (error) {
      throw new ProxyWasmLoadError(`cannot read ${wasmPath}: ${(error as Error).message}`, { cause: error });
    }
    let module: WasmModule;
    try {
      module = await webAssembly.compile(bytes);
    } catch (error) {
      throw new ProxyWasmLoadError(`${wasmPath} is not a valid Wasm module: ${(error as Error).message}`, { cause: error });
    }
    const exportNames = new Set(webAssembly.Module.exports(module).map((e) => e.name));
    const abi = ABI_VERSION_EXPORTS.find(([name]) => exportNames.has(name))?.[1];
    if (abi === undefined) {
      const why = exportNames.has(UNSUPPORTED_ABI_EXPORT)
        ? "it declares proxy-wasm ABI 0.1.0, which this host does not implement"
        : "it exports no proxy_abi_version_0_2_0 or proxy_abi_version_0_2_1 (missing or unknown proxy-wasm ABI version)";
      throw new ProxyWasmLoadError(`cannot load ${wasmPath}: ${why}`);
    }
    if (!exportNames.has("malloc") && !exportNames.has("proxy_on_memory_allocate")) {
      throw new ProxyWasmLoadError(`cannot load ${wasmPath}: the module exports no malloc (or proxy_on_memory_allocate) function`);
    }
    const host = new ProxyWasmHost(abi, opts);
    const imports = host.importObject();
    const missing = webAssembly.Module.imports(module)
      .filter((i) => i.kind !== "function" || imports[i.module]?.[i.name] === undefined)
      .map((i) => {
        const name = `${i.module}.${i.name}`;
        const hint = i.kind !== "function" ? `a ${i.kind} import` : MISSING_IMPORT_HINTS[name];
        return hint === undefined ? name : `${name} (${hint})`;
      });
    if (missing.length > 0) {
      throw new ProxyWasmLoadError(
        `cannot load ${wasmPath}: it imports what Envoy does not provide to ABI ${abi} modules: ${missing.join(", ")}`,
      );
    }
    try {
      host.instance = await webAssembly.instantiate(module, imports);
    } catch (error) {
      throw new ProxyWasmLoadError(`cannot instantiate ${wasmPath}: ${(error as Error).message}`, { cause: error });
    }
    const memory = host.instance.exports["memory"];
    if (!isMemory(memory)) {
      throw new ProxyWasmLoadError(`cannot load ${wasmPath}: the module exports no memory`);
    }
    host.memory = memory;
    host.phase = "starting";
    return host;
  }

  private constructor(abiVersion: AbiVersion, options: ProxyWasmHostOptions) {
    this.abiVersion = abiVersion;
    this.options = options;
    this.logLevelIndex = LOG_LEVELS.indexOf(options.logLevel ?? "info");
    if (this.logLevelIndex < 0) throw new RangeError(`logLevel must be one of ${LOG_LEVELS.join(", ")}`);
    this.nowNs = millisecondsToNanoseconds(options.nowMs ?? Date.now());
    this.properties = new Map<string, Uint8Array>([
      ["plugin_root_id", utf8Encoder.encode(options.rootId)],
      ["plugin_name", utf8Encoder.encode(options.rootId)],
      ["plugin_vm_id", new Uint8Array()],
    ]);
    for (const [path, value] of Object.entries(options.properties ?? {})) {
      this.properties.set(path, typeof value === "string" ? utf8Encoder.encode(value) : value);
    }
    this.guest = new GuestMemory(() => this.requireMemory(), (size) => this.allocate(size));
  }

  /**
   * Starts the VM the way Envoy does: `_initialize` (then `main`) or `_start`, the root context's
   * proxy_on_context_create, proxy_on_vm_start, then proxy_on_configure. Later calls re-run only
   * proxy_on_configure, as a configuration update does. Returns false when the module rejects its
   * VM or plugin configuration.
   */
  configure(): boolean {
    this.assertUsable();
    if (!this.started) {
      this.startVm();
      this.contexts.set(ROOT_CONTEXT_ID, { kind: "root", id: ROOT_CONTEXT_ID, status: { code: 0, message: "" }, httpCallResponse: null });
      this.withPluginConfig(() => this.callIn(ROOT_CONTEXT_ID, "proxy_on_context_create", ROOT_CONTEXT_ID, 0));
      this.started = true;
      const vmStart = this.callIn(ROOT_CONTEXT_ID, "proxy_on_vm_start", ROOT_CONTEXT_ID, this.vmConfigBytes().length);
      if (vmStart.value === 0) return false;
    }
    const configured = this.withPluginConfig(() =>
      this.callIn(ROOT_CONTEXT_ID, "proxy_on_configure", ROOT_CONTEXT_ID, this.pluginConfigBytes().length),
    );
    return configured.value !== 0;
  }

  newHttpContext(): HttpContextHandle {
    this.assertUsable();
    if (!this.started) throw new Error("newHttpContext(): call configure() first");
    const context = new HttpContext(this.nextContextId++, this.streamDriver);
    this.contexts.set(context.id, context);
    this.callIn(context.id, "proxy_on_context_create", context.id, ROOT_CONTEXT_ID);
    return context;
  }

  /** Delivers a response to a pending proxy_http_call; ":status" becomes the first header. */
  respondHttpCall(token: number, res: HttpCallResult): void {
    const call = this.pendingCall(token);
    const root = this.rootContext();
    const headers: HeaderList = [[":status", String(res.status)], ...lowerCaseKeys(res.headers ?? []).filter(([k]) => k !== ":status")];
    const body = utf8Encoder.encode(res.body ?? "");
    call.done = true;
    root.httpCallResponse = { headers, body };
    try {
      this.callIn(root.id, "proxy_on_http_call_response", root.id, token, headers.length, body.length, 0);
    } finally {
      root.httpCallResponse = null;
    }
  }

  /**
   * Fails a pending call the way Envoy reports a reset: 0 headers, 0 body bytes, 0 trailers, and
   * proxy_get_status answers BrokenConnection "reset" during the callback. (Envoy reports a timeout
   * as a 504 response and an unreachable upstream as a 503 one: use respondHttpCall for those.)
   */
  failHttpCall(token: number): void {
    const call = this.pendingCall(token);
    const root = this.rootContext();
    call.done = true;
    root.status = { code: WasmResult.BrokenConnection, message: "reset" };
    try {
      this.callIn(root.id, "proxy_on_http_call_response", root.id, token, 0, 0, 0);
    } finally {
      root.status.message = "";
    }
  }

  /** Moves the host clock forward; it does not fire the timer (see tick). */
  advanceTime(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advanceTime(${ms}): time only moves forward`);
    this.nowNs += millisecondsToNanoseconds(ms);
  }

  /** Fires the root context's timer once (proxy_on_tick). */
  tick(): void {
    this.assertUsable();
    if (this.tickPeriodMs === 0) {
      throw new Error("tick(): the module set no tick period (proxy_set_tick_period_milliseconds), so Envoy would never call proxy_on_tick");
    }
    this.callIn(ROOT_CONTEXT_ID, "proxy_on_tick", ROOT_CONTEXT_ID);
  }

  /** Current size of the module's linear memory in bytes. */
  memoryBytes(): number {
    return this.requireMemory().buffer.byteLength;
  }

  // ---- calls into the module

  private startVm(): void {
    const exports = this.requireInstance().exports;
    try {
      if (typeof exports["_initialize"] === "function") {
        this.callIn(VM_CONTEXT_ID, "_initialize");
        if (typeof exports["main"] === "function") this.callIn(VM_CONTEXT_ID, "main", 0, 0);
      } else if (typeof exports["_start"] === "function") {
        this.callIn(VM_CONTEXT_ID, "_start");
      }
    } finally {
      this.phase = "running";
    }
  }

  private withPluginConfig<T>(run: () => T): T {
    this.pluginConfigAvailable = true;
    try {
      return run();
    } finally {
      this.pluginConfigAvailable = false;
    }
  }

  /**
   * Runs an export with Envoy's context bookkeeping: the called context is current, none is
   * effective. Local replies the module sent are delivered once the outermost call returns, as
   * Envoy runs them after the VM call.
   */
  private callIn(contextId: number, exportName: string, ...args: WasmValue[]): CallOutcome {
    const outcome = this.invoke(contextId, exportName, args);
    if (this.callDepth === 0) {
      for (let stream = this.pendingLocalReplies.shift(); stream !== undefined; stream = this.pendingLocalReplies.shift()) {
        if (this.contexts.has(stream.id)) stream.encodeLocalReply();
      }
    }
    return outcome;
  }

  private invoke(contextId: number, exportName: string, args: WasmValue[]): CallOutcome {
    this.assertUsable();
    const fn = this.requireInstance().exports[exportName];
    if (typeof fn !== "function") return { value: undefined, stopped: false };
    const saved = { current: this.currentContextId, effective: this.effectiveContextId, stop: this.stopIteration };
    this.currentContextId = contextId;
    this.effectiveContextId = 0;
    this.stopIteration = false;
    this.errorsDuringCall = [];
    this.callDepth++;
    try {
      const result = (fn as (...a: WasmValue[]) => unknown)(...args);
      return { value: result === undefined ? undefined : u32(result as WasmValue), stopped: this.stopIteration };
    } catch (error) {
      this.pendingLocalReplies = [];
      throw this.recordFailure(exportName, error);
    } finally {
      this.callDepth--;
      this.currentContextId = saved.current;
      this.effectiveContextId = saved.effective;
      this.stopIteration = saved.stop;
    }
  }

  private recordFailure(exportName: string, error: unknown): ProxyWasmTrap {
    if (error instanceof ProxyWasmTrap) {
      this.failure ??= error;
      return error;
    }
    const exitCode = error instanceof ModuleExit ? error.code : undefined;
    const reason =
      exitCode !== undefined
        ? `the module exited with code ${exitCode}`
        : isRuntimeError(error)
          ? `the module trapped: ${error.message}`
          : `a host call failed: ${error instanceof Error ? error.message : String(error)}`;
    const lastError = this.errorsDuringCall.at(-1);
    const detail = lastError === undefined ? "" : `; last error logged: ${lastError}`;
    const trap = new ProxyWasmTrap(`${exportName}: ${reason}${detail}`, exitCode, { cause: error });
    this.failure = trap;
    return trap;
  }

  private assertUsable(): void {
    if (this.failure !== undefined) {
      throw new ProxyWasmTrap(`the module failed earlier and is not called again: ${this.failure.message}`, this.failure.exitCode, {
        cause: this.failure,
      });
    }
  }

  private readonly streamDriver: StreamDriver = {
    call: (context, exportName, ...args) => {
      if (!this.contexts.has(context.id)) throw new Error(`context ${context.id} was deleted`);
      return this.callIn(context.id, exportName, ...args);
    },
    forget: (context) => {
      this.contexts.delete(context.id);
    },
  };

  // ---- state helpers

  private requireInstance(): WasmInstance {
    if (this.instance === undefined) throw new ProxyWasmLoadError("the module is not instantiated yet");
    return this.instance;
  }

  private requireMemory(): WasmMemory {
    if (this.memory === undefined) {
      throw new ProxyWasmLoadError(
        "the module called the host from its start function, before its memory was available (Envoy cannot serve that either)",
      );
    }
    return this.memory;
  }

  private allocate(size: number): number {
    const exports = this.requireInstance().exports;
    const malloc = exports["malloc"] ?? exports["proxy_on_memory_allocate"];
    return u32((malloc as (n: number) => WasmValue)(size));
  }

  private rootContext(): RootContextState {
    const root = this.contexts.get(ROOT_CONTEXT_ID);
    if (root?.kind !== "root") throw new Error("the root context does not exist: call configure() first");
    return root;
  }

  private effectiveContext(): ContextState {
    const effective = this.effectiveContextId === 0 ? undefined : this.contexts.get(this.effectiveContextId);
    return effective ?? this.contexts.get(this.currentContextId) ?? this.vmContext;
  }

  private pendingCall(token: number): HttpCall {
    const call = this.httpCalls.find((c) => c.token === token);
    if (call === undefined) throw new Error(`no http call with token ${token}`);
    if (call.done) throw new Error(`http call ${token} was already answered`);
    return call;
  }

  private vmConfigBytes(): Uint8Array {
    return utf8Encoder.encode(this.options.vmConfig ?? "");
  }

  private pluginConfigBytes(): Uint8Array {
    return utf8Encoder.encode(this.options.pluginConfig);
  }

  private emitLog(level: number, message: string): void {
    if (level >= 4) this.errorsDuringCall.push(message);
    if (level >= this.logLevelIndex) this.logs.push({ level: LOG_LEVELS[level]!, message });
  }

  /** Envoy's mutable view of a header map: only while the stream's callback (or pause) allows it. */
  private mutableHeaderMap(type: number): HeaderList | null {
    const context = this.effectiveContext();
    if (!(context instanceof HttpContext)) return null;
    if (type === HeaderMapType.RequestHeaders) return context.requestHeadersOpen ? context.requestHeaders : null;
    if (type === HeaderMapType.ResponseHeaders) return context.responseHeadersOpen ? context.responseHeaders : null;
    return null;
  }

  private readableHeaderMap(type: number): HeaderList | null {
    if (type === HeaderMapType.HttpCallResponseHeaders) return this.httpCallResponse()?.headers ?? null;
    return this.mutableHeaderMap(type);
  }

  /** The response being delivered; Envoy keeps it on the root context, visible from any context. */
  private httpCallResponse(): HttpCallResponseState | null {
    const root = this.contexts.get(ROOT_CONTEXT_ID);
    return root?.kind === "root" ? root.httpCallResponse : null;
  }

  /** The bytes a buffer type holds for the effective context; null where Envoy has no buffer (NotFound). */
  private buffer(type: number): Uint8Array | null {
    const context = this.effectiveContext();
    switch (type) {
      case BufferType.VmConfiguration:
        return this.vmConfigBytes();
      case BufferType.PluginConfiguration:
        return this.pluginConfigAvailable ? this.pluginConfigBytes() : null;
      case BufferType.HttpCallResponseBody:
        return this.httpCallResponse()?.body ?? null;
      case BufferType.HttpRequestBody:
        return context instanceof HttpContext && context.requestBodyOpen ? context.requestBodyBytes : new Uint8Array();
      default:
        return new Uint8Array();
    }
  }

  // ---- imports

  private importObject(): ImportObject {
    const proxy = this.proxyFunctions();
    const env: Record<string, HostFunction> = {};
    for (const name of [...COMMON_PROXY_IMPORTS, ...ABI_SPECIFIC_PROXY_IMPORTS[this.abiVersion]]) {
      const fn = proxy[name];
      if (fn === undefined) throw new Error(`host is missing its implementation of ${name}`);
      env[name] = this.guarded("env", name, fn);
    }
    const extras: Record<(typeof EXTRA_ENV_IMPORTS)[number], HostFunction> = {
      pthread_equal: (left, right) => (u32(left) === u32(right) ? 1 : 0),
      emscripten_notify_memory_growth: () => undefined,
    };
    for (const [name, fn] of Object.entries(extras)) env[name] = this.guarded("env", name, fn);

    const imports: ImportObject = { env };
    const wasi = wasiFunctions({
      memory: this.guest,
      log: (level, message) => this.emitLog(level, message),
      nowNanoseconds: () => this.nowNs,
    });
    for (const module of WASI_MODULES) {
      imports[module] = {};
      for (const name of WASI_IMPORTS) imports[module][name] = this.guarded(module, name, wasi[name]!);
    }
    return imports;
  }

  /** Envoy serves only a few imports while the module starts; the rest answer with an error. */
  private guarded(module: string, name: string, fn: HostFunction): HostFunction {
    const qualified = `${module}.${name}`;
    return (...args) => {
      if (this.phase === "starting" && !START_PHASE_IMPORTS.has(qualified)) {
        this.emitLog(4, `Attempted call to restricted capability during VM start: ${qualified}`);
        return module === "env" ? WasmResult.InternalFailure : WasiErrno.NotCapable;
      }
      return fn(...args);
    };
  }

  private proxyFunctions(): Record<string, HostFunction> {
    const mem = this.guest;
    const R = WasmResult;
    const copyOut = (bytes: Uint8Array, ptrPtr: WasmValue, sizePtr: WasmValue): number =>
      mem.copyToPointerSize(bytes, u32(ptrPtr), u32(sizePtr)) ? R.Ok : R.InvalidMemoryAccess;
    const unimplemented = (): number => R.Unimplemented;

    return {
      proxy_log: (level, ptr, size) => {
        if (u32(level) >= LOG_LEVELS.length) return R.BadArgument;
        const message = mem.readString(u32(ptr), u32(size));
        if (message === null) return R.InvalidMemoryAccess;
        this.emitLog(u32(level), message);
        return R.Ok;
      },

      proxy_get_log_level: (levelPtr) => (mem.writeU32(u32(levelPtr), this.logLevelIndex) ? R.Ok : R.InvalidMemoryAccess),

      proxy_get_status: (codePtr, messagePtrPtr, messageSizePtr) => {
        const { status } = this.effectiveContext();
        if (!mem.writeU32(u32(codePtr), status.code)) return R.InvalidMemoryAccess;
        return copyOut(utf8Encoder.encode(status.message), messagePtrPtr, messageSizePtr);
      },

      proxy_get_property: (pathPtr, pathSize, valuePtrPtr, valueSizePtr) => {
        const raw = mem.readString(u32(pathPtr), u32(pathSize));
        if (raw === null) return R.InvalidMemoryAccess;
        const path = raw.endsWith("\0") ? raw.slice(0, -1) : raw;
        const context = this.effectiveContext();
        const value = (context instanceof HttpContext ? context.properties.get(path) : undefined) ?? this.properties.get(path);
        if (value === undefined) return R.NotFound;
        return copyOut(value, valuePtrPtr, valueSizePtr);
      },

      // Envoy stores set properties in the stream's filter state: only a stream context has one.
      proxy_set_property: (pathPtr, pathSize, valuePtr, valueSize) => {
        const path = mem.readString(u32(pathPtr), u32(pathSize));
        const value = mem.read(u32(valuePtr), u32(valueSize));
        if (path === null || value === null) return R.InvalidMemoryAccess;
        const context = this.effectiveContext();
        if (!(context instanceof HttpContext)) return R.NotFound;
        context.properties.set(path.endsWith("\0") ? path.slice(0, -1) : path, value);
        return R.Ok;
      },

      proxy_send_local_response: (code, detailsPtr, detailsSize, bodyPtr, bodySize, pairsPtr, pairsSize, grpcStatus) => {
        const details = mem.readString(u32(detailsPtr), u32(detailsSize));
        const body = mem.readString(u32(bodyPtr), u32(bodySize));
        const pairs = mem.read(u32(pairsPtr), u32(pairsSize));
        if (details === null || body === null || pairs === null) return R.InvalidMemoryAccess;
        const context = this.effectiveContext();
        if (context instanceof HttpContext && context.localResponse === undefined) {
          context.localResponse = {
            status: u32(code),
            body,
            headers: lowerCaseKeys(decodeHeaderPairsLeniently(pairs)),
            details: details.replace(/\s/g, "_"),
            // Envoy takes a gRPC status only in the range of the known codes (the SDKs send -1 for none).
            ...(u32(grpcStatus) <= MAX_GRPC_STATUS ? { grpcStatus: u32(grpcStatus) } : {}),
          };
          this.pendingLocalReplies.push(context);
        }
        this.stopIteration = true;
        return R.Ok;
      },

      proxy_get_shared_data: (keyPtr, keySize, valuePtrPtr, valueSizePtr, casPtr) => {
        const key = mem.readString(u32(keyPtr), u32(keySize));
        if (key === null) return R.InvalidMemoryAccess;
        const entry = this.sharedData.get(key);
        if (entry === undefined) return R.NotFound;
        if (copyOut(entry.value, valuePtrPtr, valueSizePtr) !== R.Ok) return R.InvalidMemoryAccess;
        return mem.writeU32(u32(casPtr), entry.cas) ? R.Ok : R.InvalidMemoryAccess;
      },

      // CAS 0 writes unconditionally; a new key is written whatever CAS is given (as in Envoy).
      proxy_set_shared_data: (keyPtr, keySize, valuePtr, valueSize, cas) => {
        const key = mem.readString(u32(keyPtr), u32(keySize));
        const value = mem.read(u32(valuePtr), u32(valueSize));
        if (key === null || value === null) return R.InvalidMemoryAccess;
        const existing = this.sharedData.get(key);
        if (existing !== undefined && u32(cas) !== 0 && u32(cas) !== existing.cas) return R.CasMismatch;
        this.sharedData.set(key, { value, cas: takeSharedDataCas() });
        return R.Ok;
      },

      proxy_register_shared_queue: unimplemented,
      proxy_resolve_shared_queue: unimplemented,
      proxy_dequeue_shared_queue: unimplemented,
      proxy_enqueue_shared_queue: unimplemented,

      proxy_get_header_map_value: (type, keyPtr, keySize, valuePtrPtr, valueSizePtr) => {
        if (u32(type) > HEADER_MAP_TYPE_MAX) return R.BadArgument;
        const key = mem.readString(u32(keyPtr), u32(keySize));
        if (key === null) return R.InvalidMemoryAccess;
        const map = this.readableHeaderMap(u32(type));
        if (map === null) return R.BadArgument;
        const value = getHeaderValue(map, key);
        if (value === undefined) return R.NotFound;
        return copyOut(utf8Encoder.encode(value), valuePtrPtr, valueSizePtr);
      },

      proxy_add_header_map_value: (type, keyPtr, keySize, valuePtr, valueSize) =>
        this.editHeaderMap(type, keyPtr, keySize, valuePtr, valueSize, (map, key, value) => addHeaderValue(map, key, value)),

      proxy_replace_header_map_value: (type, keyPtr, keySize, valuePtr, valueSize) =>
        this.editHeaderMap(type, keyPtr, keySize, valuePtr, valueSize, (map, key, value) => replaceHeaderValue(map, key, value)),

      proxy_remove_header_map_value: (type, keyPtr, keySize) =>
        this.editHeaderMap(type, keyPtr, keySize, 0, 0, (map, key) => removeHeaderValues(map, key)),

      // An unavailable map reads as empty here (Envoy's behaviour), unlike the single-value calls.
      proxy_get_header_map_pairs: (type, ptrPtr, sizePtr) => {
        if (u32(type) > HEADER_MAP_TYPE_MAX) return R.BadArgument;
        const map = this.readableHeaderMap(u32(type)) ?? [];
        return copyOut(map.length === 0 ? new Uint8Array() : encodeHeaderPairs(map), ptrPtr, sizePtr);
      },

      proxy_set_header_map_pairs: (type, ptr, size) => {
        if (u32(type) > HEADER_MAP_TYPE_MAX) return R.BadArgument;
        const bytes = mem.read(u32(ptr), u32(size));
        if (bytes === null) return R.InvalidMemoryAccess;
        const map = this.mutableHeaderMap(u32(type));
        if (map === null) return R.BadArgument;
        setHeaderPairs(map, decodeHeaderPairsLeniently(bytes));
        return R.Ok;
      },

      proxy_get_header_map_size: (type, sizePtr) => {
        if (u32(type) > HEADER_MAP_TYPE_MAX) return R.BadArgument;
        const map = this.mutableHeaderMap(u32(type));
        if (map === null) return R.BadArgument;
        return mem.writeU32(u32(sizePtr), headerMapByteSize(map)) ? R.Ok : R.InvalidMemoryAccess;
      },

      proxy_get_buffer_status: (type, lengthPtr, flagsPtr) => {
        if (u32(type) > BUFFER_TYPE_MAX) return R.BadArgument;
        const buffer = this.buffer(u32(type));
        if (buffer === null) return R.NotFound;
        return mem.writeU32(u32(lengthPtr), buffer.length) && mem.writeU32(u32(flagsPtr), 0) ? R.Ok : R.InvalidMemoryAccess;
      },

      // A zero-length read answers Ok without writing the out-parameters (as Envoy does): callers
      // must not trust stale values there.
      proxy_get_buffer_bytes: (type, start, length, ptrPtr, sizePtr) => {
        if (u32(type) > BUFFER_TYPE_MAX) return R.BadArgument;
        const buffer = this.buffer(u32(type));
        if (buffer === null) return R.NotFound;
        const from = u32(start);
        if (from > buffer.length) return R.InvalidMemoryAccess;
        const count = Math.min(u32(length), buffer.length - from);
        if (count === 0) return R.Ok;
        return copyOut(buffer.subarray(from, from + count), ptrPtr, sizePtr);
      },

      proxy_set_buffer_bytes: (type, start, length, dataPtr, dataSize) => {
        if (u32(type) > BUFFER_TYPE_MAX) return R.BadArgument;
        const context = this.effectiveContext();
        if (u32(type) !== BufferType.HttpRequestBody || !(context instanceof HttpContext) || !context.requestBodyOpen) {
          return this.buffer(u32(type)) === null ? R.NotFound : R.BadArgument;
        }
        const data = mem.read(u32(dataPtr), u32(dataSize));
        if (data === null) return R.InvalidMemoryAccess;
        const body = context.requestBodyBytes;
        const [from, count] = [u32(start), u32(length)];
        if (from === 0) {
          context.requestBodyBytes = concatBytes(data, body.subarray(Math.min(count, body.length)));
        } else if (from >= body.length) {
          context.requestBodyBytes = concatBytes(body, data);
        } else {
          return R.BadArgument;
        }
        return R.Ok;
      },

      proxy_http_call: (uriPtr, uriSize, headersPtr, headersSize, bodyPtr, bodySize, trailersPtr, trailersSize, timeout, tokenPtr) => {
        const upstream = mem.readString(u32(uriPtr), u32(uriSize));
        const headerBytes = mem.read(u32(headersPtr), u32(headersSize));
        const body = mem.readString(u32(bodyPtr), u32(bodySize));
        const trailerBytes = mem.read(u32(trailersPtr), u32(trailersSize));
        if (upstream === null || headerBytes === null || body === null || trailerBytes === null) return R.InvalidMemoryAccess;
        if (!mem.writeU32(u32(tokenPtr), 0)) return R.InvalidMemoryAccess;
        if (u32(timeout) > MAX_TIMEOUT_MS) return R.BadArgument;
        if (this.options.clusters !== undefined && !this.options.clusters.includes(upstream)) return R.BadArgument;
        const headers = lowerCaseKeys(decodeHeaderPairsLeniently(headerBytes));
        if ([":path", ":method", ":authority"].some((name) => getHeaderValue(headers, name) === undefined)) return R.BadArgument;
        const token = this.nextHttpCallToken++;
        this.httpCalls.push({ token, upstream, headers, body, timeoutMs: u32(timeout), done: false });
        mem.writeU32(u32(tokenPtr), token);
        return R.Ok;
      },

      proxy_grpc_call: unimplemented,
      proxy_grpc_stream: unimplemented,
      proxy_grpc_close: unimplemented,
      proxy_grpc_cancel: unimplemented,
      proxy_grpc_send: unimplemented,

      proxy_set_tick_period_milliseconds: (period) => {
        this.tickPeriodMs = u32(period);
        return R.Ok;
      },

      proxy_get_current_time_nanoseconds: (resultPtr) => (mem.writeU64(u32(resultPtr), this.nowNs) ? R.Ok : R.InvalidMemoryAccess),

      proxy_define_metric: (type, namePtr, nameSize, idPtr) => {
        const kind = u32(type);
        if (kind > METRIC_TYPE_MAX) return R.BadArgument;
        const name = mem.readString(u32(namePtr), u32(nameSize));
        if (name === null) return R.InvalidMemoryAccess;
        const typeName = METRIC_TYPE_NAMES[kind]!;
        const existing = this.metrics.get(name);
        if (existing !== undefined && existing.type !== typeName) return R.BadArgument;
        const id = (this.lastMetricIds[kind]! + METRIC_ID_INCREMENT) >>> 0;
        if (!mem.writeU32(u32(idPtr), id)) return R.InvalidMemoryAccess;
        this.lastMetricIds[kind] = id;
        this.metricNames.set(id, name);
        if (existing === undefined) this.metrics.set(name, { type: typeName, value: 0, records: [] });
        return R.Ok;
      },

      proxy_increment_metric: (id, offset) => {
        const kind = u32(id) & METRIC_TYPE_MASK;
        if (kind !== MetricType.Counter && kind !== MetricType.Gauge) return R.BadArgument;
        const metric = this.metricById(id);
        if (metric === undefined) return R.NotFound;
        const delta = Number(BigInt.asIntN(64, BigInt(offset ?? 0)));
        if (kind === MetricType.Counter && delta <= 0) return R.BadArgument;
        metric.value += delta;
        return R.Ok;
      },

      proxy_record_metric: (id, value) => {
        const metric = this.metricById(id);
        if (metric === undefined) return R.NotFound;
        const amount = Number(BigInt.asUintN(64, BigInt(value ?? 0)));
        if (metric.type === "counter") metric.value += amount;
        else if (metric.type === "gauge") metric.value = amount;
        else {
          metric.records.push(amount);
          metric.value += amount;
        }
        return R.Ok;
      },

      proxy_get_metric: (id, resultPtr) => {
        const kind = u32(id) & METRIC_TYPE_MASK;
        if (kind !== MetricType.Counter && kind !== MetricType.Gauge) return R.BadArgument;
        const metric = this.metricById(id);
        if (metric === undefined) return R.NotFound;
        return mem.writeU64(u32(resultPtr), BigInt(Math.trunc(metric.value))) ? R.Ok : R.InvalidMemoryAccess;
      },

      proxy_set_effective_context: (contextId) => {
        const id = u32(contextId);
        if (id === VM_CONTEXT_ID || !this.contexts.has(id)) return R.BadArgument;
        this.effectiveContextId = id;
        return R.Ok;
      },

      // Only a root context whose proxy_on_done returned false may call this; this host never
      // shuts a root context down, so there is never one pending.
      proxy_done: () => R.NotFound,

      proxy_call_foreign_function: (namePtr, nameSize, argsPtr, argsSize, resultsPtr, resultsSizePtr) => {
        const name = mem.readString(u32(namePtr), u32(nameSize));
        if (name === null || mem.read(u32(argsPtr), u32(argsSize)) === null) return R.InvalidMemoryAccess;
        if (!(FOREIGN_FUNCTIONS as readonly string[]).includes(name)) return R.NotFound;
        if (u32(resultsPtr) !== 0 && !mem.writeU32(u32(resultsPtr), 0)) return R.InvalidMemoryAccess;
        if (u32(resultsSizePtr) !== 0 && !mem.writeU32(u32(resultsSizePtr), 0)) return R.InvalidMemoryAccess;
        return R.Ok;
      },

      // Envoy drops access to the request's headers and body as soon as the stream is continued
      // (for either direction): edits must come before proxy_continue_stream.
      proxy_continue_stream: (type) => {
        const stream = u32(type);
        if (stream > STREAM_TYPE_MAX) return R.BadArgument;
        if (stream === StreamType.Upstream) return R.Unimplemented;
        const context = this.effectiveContext();
        if (context instanceof HttpContext && (stream === StreamType.Request || stream === StreamType.Response)) {
          context.continued = true;
          context.requestHeadersOpen = false;
          context.requestBodyOpen = false;
        }
        return R.Ok;
      },

      proxy_close_stream: (type) => {
        const stream = u32(type);
        if (stream > STREAM_TYPE_MAX) return R.BadArgument;
        const context = this.effectiveContext();
        if (context instanceof HttpContext && (stream === StreamType.Request || stream === StreamType.Response)) {
          context.closed = true;
        }
        return R.Ok;
      },
    };
  }

  private editHeaderMap(
    type: WasmValue | undefined,
    keyPtr: WasmValue | undefined,
    keySize: WasmValue | undefined,
    valuePtr: WasmValue | undefined,
    valueSize: WasmValue | undefined,
    edit: (map: HeaderList, key: string, value: string) => void,
  ): number {
    if (u32(type) > HEADER_MAP_TYPE_MAX) return WasmResult.BadArgument;
    const key = this.guest.readString(u32(keyPtr), u32(keySize));
    const value = this.guest.readString(u32(valuePtr), u32(valueSize));
    if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
    const map = this.mutableHeaderMap(u32(type));
    if (map === null) return WasmResult.BadArgument;
    edit(map, key, value);
    return WasmResult.Ok;
  }

  private metricById(id: WasmValue | undefined): MetricEntry | undefined {
    const name = this.metricNames.get(u32(id));
    return name === undefined ? undefined : this.metrics.get(name);
  }
}

function millisecondsToNanoseconds(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1_000_000));
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
