import * as functions from '@google-cloud/functions-framework';
import type {CloudEvent} from '@google-cloud/functions-framework';
import {processContext} from '../../shared/context';
import {handleDelivery} from '../../shared/handle-delivery';
import {dockerfileChangedHandler} from './handler';

const context = processContext();

functions.cloudEvent('dockerfileChanged', (event: CloudEvent<unknown>) =>
  handleDelivery(event, dockerfileChangedHandler, context),
);
