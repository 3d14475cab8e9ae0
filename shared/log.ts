/**
 * Structured logs that Cloud Logging parses: one JSON object per line on stdout with
 * `severity`, `message` and `logging.googleapis.com/labels`.
 */
import pino from 'pino';

const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export type Labels = Record<string, string>;

export interface Logger {
  debug(message: string, fields?: object): void;
  info(message: string, fields?: object): void;
  warn(message: string, fields?: object): void;
  error(message: string, fields?: object): void;
  child(labels: Labels): Logger;
}

export function createLogger(
  labels: Labels = {},
  destination?: pino.DestinationStream,
): Logger {
  const base = pino(
    {
      level: process.env.LOG_LEVEL ?? 'info',
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      base: undefined,
      formatters: {
        level: label => ({severity: SEVERITY[label] ?? 'DEFAULT'}),
      },
    },
    destination ?? pino.destination({sync: true}),
  );
  return wrap(base, labels);
}

function wrap(instance: pino.Logger, labels: Labels): Logger {
  const labelled = {'logging.googleapis.com/labels': labels};
  const write =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields: object = {}) =>
      instance[level]({...labelled, ...fields}, message);
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: more => wrap(instance, {...labels, ...more}),
  };
}

export const logger: Logger = createLogger({component: 'arr-control-plane'});
