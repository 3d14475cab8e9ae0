import * as functions from '@google-cloud/functions-framework';
import type {CloudEvent} from '@google-cloud/functions-framework';
import {processContext} from '../../shared/context';
import {handleDelivery} from '../../shared/handle-delivery';
import {buildFinishedHandler} from './handler';

const context = processContext();

functions.cloudEvent('buildFinished', (event: CloudEvent<unknown>) =>
  handleDelivery(event, buildFinishedHandler, context),
);
