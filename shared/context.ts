/**
 * What every handler works with: validated config, the catalog, lazily built clients and
 * a logger. Built once per process (a function instance), at cold start.
 */
import {ArtifactRegistry} from './artifact-registry';
import {Catalog, imageCatalog} from './catalog';
import {createClients, Clients} from './clients';
import {Config, loadConfig} from './config';
import {ImageBuilds} from './image-build';
import {Logger, logger} from './log';
import {DEFAULT_RETRY_POLICY, RetryPolicy} from './retry';

export interface Context {
  config: Config;
  catalog: Catalog;
  clients: Clients;
  registry: ArtifactRegistry;
  builds: ImageBuilds;
  log: Logger;
  /** In-process retries of transient faults, for every adapter. */
  retry: RetryPolicy;
}

export function createContext(
  config: Config,
  options: {catalog?: Catalog; log?: Logger; retry?: RetryPolicy} = {},
): Context {
  const clients = createClients(config);
  const retry = options.retry ?? DEFAULT_RETRY_POLICY;
  return {
    config,
    catalog: options.catalog ?? imageCatalog(),
    clients,
    registry: new ArtifactRegistry(clients.artifactRegistry, config, retry),
    builds: new ImageBuilds(clients.cloudBuild, config, retry),
    log: options.log ?? logger,
    retry,
  };
}

let processWide: Context | undefined;

/** The function instance's context; an invalid config throws here, loudly, at cold start. */
export function processContext(): Context {
  processWide ??= createContext(loadConfig(process.env));
  return processWide;
}
