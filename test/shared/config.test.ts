import * as assert from 'assert';
import {describeBuildCost, ratesWith} from '../../shared/build-rates';
import {ConfigError, loadConfig} from '../../shared/config';
import {imagePath} from '../../shared/repository-id';

const base = {GOOGLE_CLOUD_PROJECT: 'arr-test-project'};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(
      error instanceof ConfigError,
      `expected ConfigError, got ${String(error)}`,
    );
    return error;
  }
  assert.fail('expected the config to be refused');
}

describe('config', () => {
  it('applies the defaults', () => {
    const config = loadConfig(base);
    assert.strictEqual(config.region, 'us-central1');
    assert.strictEqual(
      config.persistentRepository,
      'arr-coc-registry-persistent',
    );
    assert.strictEqual(config.ephemeralRepository, 'arr-coc-registry');
    assert.strictEqual(config.cloudBuildsTopic, 'cloud-builds');
    assert.strictEqual(config.artifactRegistryEmulator, undefined);
    assert.strictEqual(config.runRetentionDays, 30);
  });

  it('reads RUN_RETENTION_DAYS: how long run records are kept', () => {
    assert.strictEqual(
      loadConfig({...base, RUN_RETENTION_DAYS: '7'}).runRetentionDays,
      7,
    );
    assert.strictEqual(
      loadConfig({...base, RUN_RETENTION_DAYS: ' '}).runRetentionDays,
      30,
    );
  });

  it('reads BUILD_MINUTE_RATES over the default rate table, and refuses a malformed one', () => {
    assert.strictEqual(loadConfig(base).buildMinuteRates, undefined);
    const config = loadConfig({
      ...base,
      BUILD_MINUTE_RATES: 'E2_HIGHCPU_32=0.07, E2_MEDIUM=0.003',
    });
    assert.deepStrictEqual(config.buildMinuteRates, {
      E2_HIGHCPU_32: 0.07,
      E2_MEDIUM: 0.003,
    });
    const rates = ratesWith(config.buildMinuteRates);
    assert.strictEqual(rates.E2_HIGHCPU_32, 0.07);
    assert.strictEqual(rates.E2_HIGHCPU_8, 0.016);
    assert.strictEqual(
      describeBuildCost(3 * 3600 + 12 * 60, 'E2_HIGHCPU_32', {
        E2_HIGHCPU_32: 0.064,
      }),
      '3 h 12 min on E2_HIGHCPU_32 (~$12.29)',
    );
    assert.match(
      configError({...base, BUILD_MINUTE_RATES: 'E2_HIGHCPU_32=cheap'}).message,
      /BUILD_MINUTE_RATES .*MACHINE_TYPE=USD_PER_MINUTE/,
    );
  });

  it("builds image paths on REGISTRY_HOST, else on the region's Artifact Registry host", () => {
    assert.strictEqual(
      loadConfig(base).registryHost,
      'us-central1-docker.pkg.dev',
    );
    assert.strictEqual(
      loadConfig({...base, REGION: 'europe-west4'}).registryHost,
      'europe-west4-docker.pkg.dev',
    );
    const local = loadConfig({...base, REGISTRY_HOST: '127.0.0.1:41234'});
    assert.strictEqual(
      imagePath(local, 'arr-coc-registry', 'arr-trainer'),
      '127.0.0.1:41234/arr-test-project/arr-coc-registry/arr-trainer',
    );
    for (const bad of ['http://127.0.0.1:5000', 'host/path', 'UPPER.example']) {
      assert.strictEqual(
        configError({...base, REGISTRY_HOST: bad}).variable,
        'REGISTRY_HOST',
      );
    }
  });

  it('reads the stand-in endpoints as host:port', () => {
    const config = loadConfig({
      ...base,
      ARTIFACT_REGISTRY_EMULATOR_HOST: '127.0.0.1:8123',
      CLOUD_BUILD_EMULATOR_HOST: 'localhost:9000',
    });
    assert.deepStrictEqual(config.artifactRegistryEmulator, {
      host: '127.0.0.1',
      port: 8123,
    });
    assert.deepStrictEqual(config.cloudBuildEmulator, {
      host: 'localhost',
      port: 9000,
    });
  });

  const refusals: Array<[string, Record<string, string>, string]> = [
    ['a missing project', {}, 'GOOGLE_CLOUD_PROJECT'],
    [
      'a malformed project',
      {GOOGLE_CLOUD_PROJECT: 'Not A Project'},
      'GOOGLE_CLOUD_PROJECT',
    ],
    ['a malformed region', {...base, REGION: 'central'}, 'REGION'],
    [
      'a persistent id with uppercase',
      {...base, PERSISTENT_REPOSITORY: 'Persist'},
      'PERSISTENT_REPOSITORY',
    ],
    [
      'an ephemeral id with a slash',
      {...base, EPHEMERAL_REPOSITORY: 'a/b'},
      'EPHEMERAL_REPOSITORY',
    ],
    [
      'equal repository names',
      {
        ...base,
        PERSISTENT_REPOSITORY: 'same-repo',
        EPHEMERAL_REPOSITORY: 'same-repo',
      },
      'EPHEMERAL_REPOSITORY',
    ],
    [
      'a stand-in endpoint without a port',
      {...base, CLOUD_BUILD_EMULATOR_HOST: 'localhost'},
      'CLOUD_BUILD_EMULATOR_HOST',
    ],
    [
      'a bad build service account',
      {...base, BUILD_SERVICE_ACCOUNT: 'me'},
      'BUILD_SERVICE_ACCOUNT',
    ],
    [
      'zero build attempts',
      {...base, MAX_BUILD_ATTEMPTS: '0'},
      'MAX_BUILD_ATTEMPTS',
    ],
    ...['0', '-3', '1.5', '30d', '3651'].map(
      (days): [string, Record<string, string>, string] => [
        `a run retention of "${days}" days`,
        {...base, RUN_RETENTION_DAYS: days},
        'RUN_RETENTION_DAYS',
      ],
    ),
  ];
  for (const [what, env, variable] of refusals) {
    it(`refuses ${what} and names ${variable}`, () => {
      const error = configError(env);
      assert.strictEqual(error.variable, variable);
      assert.match(error.message, new RegExp(variable));
    });
  }

  it('keeps prefix-related names apart (arr-coc-registry vs arr-coc-registry-persistent)', () => {
    const config = loadConfig({
      ...base,
      PERSISTENT_REPOSITORY: 'arr-coc-registry-persistent',
      EPHEMERAL_REPOSITORY: 'arr-coc-registry',
    });
    assert.notStrictEqual(
      config.persistentRepository,
      config.ephemeralRepository,
    );
  });
});
