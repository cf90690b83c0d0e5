// k6 gives scripts a console (https://grafana.com/docs/k6/latest/javascript-api/#console) that
// @types/k6 does not declare; the DOM library would declare it, with browser globals k6 lacks.
declare const console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
};
