// The shared formatters (src/shared/format.ts), under the name the views import.
export * from '../../../shared/format';
