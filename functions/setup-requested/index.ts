import * as functions from '@google-cloud/functions-framework';
import type {CloudEvent} from '@google-cloud/functions-framework';
import {processContext} from '../../shared/context';
import {handleEvent} from '../../shared/handle-event';
import {setupRequestedHandler} from './handler';

const context = processContext();

functions.cloudEvent('setupRequested', (event: CloudEvent<unknown>) =>
  handleEvent(event, setupRequestedHandler, context),
);
