/**
 * Narrowing readers for requests as proto-loader decodes them (camelCase keys, defaults omitted,
 * enums as names, 64-bit integers as strings). A missing field reads as its proto3 default.
 */
import {invalidArgument} from './grpc-errors';

export type ProtoObject = Record<string, unknown>;

export function isProtoObject(value: unknown): value is ProtoObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asProtoObject(value: unknown, what: string): ProtoObject {
  if (value === undefined || value === null) return {};
  if (!isProtoObject(value)) throw invalidArgument(`${what} must be a message`);
  return value;
}

export function stringField(message: ProtoObject, field: string): string {
  const value = message[field];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string')
    throw invalidArgument(`${field} must be a string`);
  return value;
}

export function numberField(message: ProtoObject, field: string): number {
  const value = message[field];
  if (value === undefined || value === null) return 0;
  const parsed = typeof value === 'string' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed)) {
    throw invalidArgument(`${field} must be a number`);
  }
  return parsed;
}

export function booleanField(message: ProtoObject, field: string): boolean {
  const value = message[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean')
    throw invalidArgument(`${field} must be a boolean`);
  return value;
}

export function stringListField(message: ProtoObject, field: string): string[] {
  const value = message[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(item => typeof item === 'string')) {
    throw invalidArgument(`${field} must be a list of strings`);
  }
  return value;
}

export function stringMapField(
  message: ProtoObject,
  field: string,
): Record<string, string> {
  const value = message[field];
  if (value === undefined || value === null) return {};
  if (!isProtoObject(value))
    throw invalidArgument(`${field} must be a map of strings`);
  const map: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string')
      throw invalidArgument(`${field}.${key} must be a string`);
    map[key] = entry;
  }
  return map;
}

export function messageField(
  message: ProtoObject,
  field: string,
): ProtoObject | undefined {
  const value = message[field];
  if (value === undefined || value === null) return undefined;
  if (!isProtoObject(value))
    throw invalidArgument(`${field} must be a message`);
  return value;
}

/** The paths of a `google.protobuf.FieldMask` field (snake_case, as sent on the wire). */
export function fieldMaskPaths(message: ProtoObject, field: string): string[] {
  const mask = messageField(message, field);
  return mask ? stringListField(mask, 'paths') : [];
}
