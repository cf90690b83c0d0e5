// Growth of a memory series per million requests: the least-squares slope over the samples taken
// after warm-up. A slope uses every sample, so one noisy sample moves it less than a first-to-last
// difference would.

export interface SeriesPoint {
  requests: number;
  bytes: number;
}

export interface Growth {
  /** Bytes gained per 1,000,000 requests; negative when the series shrank. */
  bytesPerMillion: number;
  /** Samples the slope was fitted to (those at or after warm-up). */
  samples: number;
  fromRequests: number;
  toRequests: number;
}

/** Null when fewer than two samples lie at or after `warmupRequests`. */
export function growthPerMillion(points: readonly SeriesPoint[], warmupRequests: number): Growth | null {
  const fitted = points.filter((point) => point.requests >= warmupRequests);
  if (fitted.length < 2) return null;
  const meanX = fitted.reduce((sum, point) => sum + point.requests, 0) / fitted.length;
  const meanY = fitted.reduce((sum, point) => sum + point.bytes, 0) / fitted.length;
  let covariance = 0;
  let variance = 0;
  for (const point of fitted) {
    covariance += (point.requests - meanX) * (point.bytes - meanY);
    variance += (point.requests - meanX) ** 2;
  }
  if (variance === 0) return null;
  return {
    bytesPerMillion: (covariance / variance) * 1_000_000,
    samples: fitted.length,
    fromRequests: fitted[0]!.requests,
    toRequests: fitted[fitted.length - 1]!.requests,
  };
}
