/** The module cannot be loaded the way Envoy would load it. */
export class ProxyWasmLoadError extends Error {
  override name = "ProxyWasmLoadError";
}

/** A call into the module trapped or exited; like Envoy, the host will not call the module again. */
export class ProxyWasmTrap extends Error {
  override name = "ProxyWasmTrap";
  constructor(
    message: string,
    /** The code the module passed to proc_exit (255 for an AssemblyScript abort), if it exited. */
    readonly exitCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
