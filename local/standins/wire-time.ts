/** `google.protobuf.Timestamp` / `Duration` in proto-loader object form (longs as strings). */
export interface WireTimestamp {
  seconds: string;
  nanos: number;
}

export function toWireTimestamp(date: Date): WireTimestamp {
  const millis = date.getTime();
  const seconds = Math.floor(millis / 1000);
  return {
    seconds: String(seconds),
    nanos: (millis - seconds * 1000) * 1_000_000,
  };
}

export function toWireDuration(millis: number): WireTimestamp {
  const seconds = Math.floor(millis / 1000);
  return {
    seconds: String(seconds),
    nanos: (millis - seconds * 1000) * 1_000_000,
  };
}
