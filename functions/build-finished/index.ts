import * as functions from '@google-cloud/functions-framework';
import type {CloudEvent} from '@google-cloud/functions-framework';
import {processContext} from '../../shared/context';
import {handleEvent} from '../../shared/handle-event';
import {buildFinishedHandler} from './handler';

const context = processContext();

functions.cloudEvent('buildFinished', (event: CloudEvent<unknown>) =>
  handleEvent(event, buildFinishedHandler, context),
);
