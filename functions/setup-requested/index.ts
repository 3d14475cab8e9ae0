import * as functions from '@google-cloud/functions-framework';
import type {CloudEvent} from '@google-cloud/functions-framework';
import {processContext} from '../../shared/context';
import {handleDelivery} from '../../shared/handle-delivery';
import {setupRequestedHandler} from './handler';

const context = processContext();

functions.cloudEvent('setupRequested', (event: CloudEvent<unknown>) =>
  handleDelivery(event, setupRequestedHandler, context),
);
