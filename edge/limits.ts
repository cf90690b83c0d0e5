import type { Http2ProtocolOptions } from "./envoy-api.ts";

/** Limits from Envoy's edge best practices that listeners and clusters share. */

export const BUFFER_LIMIT_BYTES = 32 * 1024;

export const HTTP2_OPTIONS: Http2ProtocolOptions = {
  max_concurrent_streams: 100,
  initial_stream_window_size: 65_536,
  initial_connection_window_size: 1_048_576,
};
