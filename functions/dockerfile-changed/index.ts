import * as functions from '@google-cloud/functions-framework';
import type {CloudEvent} from '@google-cloud/functions-framework';
import {processContext} from '../../shared/context';
import {handleEvent} from '../../shared/handle-event';
import {dockerfileChangedHandler} from './handler';

const context = processContext();

functions.cloudEvent('dockerfileChanged', (event: CloudEvent<unknown>) =>
  handleEvent(event, dockerfileChangedHandler, context),
);
