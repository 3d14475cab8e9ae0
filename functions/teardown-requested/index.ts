import * as functions from '@google-cloud/functions-framework';
import {processContext} from '../../shared/context';
import {handleEvent} from '../../shared/handle-event';
import {teardownRequestedHandler} from './handler';

const context = processContext();

functions.cloudEvent('teardownRequested', event =>
  handleEvent(event, teardownRequestedHandler, context),
);
