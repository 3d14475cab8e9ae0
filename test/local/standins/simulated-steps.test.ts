import * as assert from 'node:assert/strict';
import {simulatedSteps} from '../../../local/standins/simulated-steps';

const START = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(START.getTime() + ms);
/** Three steps over 3 s of WORKING: one second each. */
const THREE = {stepCount: 3, workingMs: 3_000};

describe('simulated build steps', () => {
  it('are all QUEUED, without timing, until the build starts', () => {
    assert.deepEqual(simulatedSteps({...THREE, status: 'QUEUED'}, at(500)), [
      {status: 'QUEUED'},
      {status: 'QUEUED'},
      {status: 'QUEUED'},
    ]);
  });

  it('run one after another over the WORKING time: done steps SUCCESS with both times, the running one WORKING with its start only', () => {
    assert.deepEqual(
      simulatedSteps(
        {...THREE, status: 'WORKING', startTime: START},
        at(1_500),
      ),
      [
        {status: 'SUCCESS', startTime: at(0), endTime: at(1_000)},
        {status: 'WORKING', startTime: at(1_000)},
        {status: 'QUEUED'},
      ],
    );
  });

  it('stay on the last step while WORKING outlasts its expected time', () => {
    const steps = simulatedSteps(
      {...THREE, status: 'WORKING', startTime: START},
      at(9_000),
    );
    assert.deepEqual(
      steps.map(s => s.status),
      ['SUCCESS', 'SUCCESS', 'WORKING'],
    );
  });

  it('are all SUCCESS, each with its own span, when the build succeeds', () => {
    assert.deepEqual(
      simulatedSteps(
        {...THREE, status: 'SUCCESS', startTime: START, finishTime: at(3_000)},
        at(60_000),
      ),
      [
        {status: 'SUCCESS', startTime: at(0), endTime: at(1_000)},
        {status: 'SUCCESS', startTime: at(1_000), endTime: at(2_000)},
        {status: 'SUCCESS', startTime: at(2_000), endTime: at(3_000)},
      ],
    );
  });

  it('end the running step with the build when it fails or is cancelled, and leave the later ones QUEUED', () => {
    for (const status of ['FAILURE', 'CANCELLED', 'TIMEOUT'] as const) {
      assert.deepEqual(
        simulatedSteps(
          {...THREE, status, startTime: START, finishTime: at(1_200)},
          at(60_000),
        ),
        [
          {status: 'SUCCESS', startTime: at(0), endTime: at(1_000)},
          {status, startTime: at(1_000), endTime: at(1_200)},
          {status: 'QUEUED'},
        ],
        status,
      );
    }
  });

  it('stay QUEUED in a build that expired or was cancelled before it started', () => {
    assert.deepEqual(
      simulatedSteps(
        {...THREE, status: 'EXPIRED', finishTime: at(100)},
        at(200),
      ).map(s => s.status),
      ['QUEUED', 'QUEUED', 'QUEUED'],
    );
  });
});
